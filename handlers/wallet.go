package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"guildhall/db"
	"guildhall/db/model"
	"guildhall/views"
	"guildhall/views/components"
	"guildhall/web/request"
)

// SendApprovalDecision emails the buyer that their purchase was approved or
// rejected (with the reason).
func (b *Base) SendApprovalDecision(ctx context.Context, a model.Approval, orgName string) error {
	if a.BuyerEmail == "" {
		return nil
	}
	link := b.Link(fmt.Sprintf("/packages/%d", a.PackageID))
	var subject string
	var lines []string
	switch a.Status {
	case "approved":
		subject = fmt.Sprintf("Approved: %s for %s", a.PackageName, orgName)
		lines = []string{fmt.Sprintf("Your purchase of %s (%s) for %s was approved and paid from the org wallet.", a.PackageName, model.FormatCents(a.AmountCents), orgName)}
	case "rejected":
		subject = fmt.Sprintf("Not approved: %s for %s", a.PackageName, orgName)
		lines = []string{fmt.Sprintf("Your purchase of %s (%s) for %s was not approved.", a.PackageName, model.FormatCents(a.AmountCents), orgName),
			"Reason: " + a.Reason}
	default:
		return nil
	}
	html, err := RenderEmail(ctx, subject, lines, "View package", link, "You asked for this purchase on Guildhall.")
	if err != nil {
		return err
	}
	text := ""
	for _, l := range lines {
		text += l + "\n\n"
	}
	text += link + "\n"
	if err := b.Mail.Send(ctx, model.Mail{To: a.BuyerEmail, Subject: subject, Text: text, HTML: html}); err != nil {
		return fmt.Errorf("send approval email: %w", err)
	}
	return nil
}

// Wallet is /wallet: the balance for every member; top-up, auto top-up,
// transactions, the chart and CSV export for owners, admins and billing;
// transfers for owners.
type Wallet struct {
	*Base
}

type walletForms struct {
	topUp    views.MoneyForm
	auto     *views.AutoTopUpForm
	transfer views.MoneyForm
}

// formKey is the idempotency key a browser form carries, made when the form
// is rendered: a double submit sends the same key and is charged once.
func formKey() string {
	k, _ := db.NewSecret("form_")
	return k
}

func dollars(c int64) string {
	if c%100 == 0 {
		return strconv.FormatInt(c/100, 10)
	}
	return fmt.Sprintf("%d.%02d", c/100, c%100)
}

func (h *Wallet) view(c echo.Context, st walletForms) (views.WalletView, error) {
	ctx := c.Request().Context()
	ws := request.Workspace(c)
	actor := request.Actor(c)
	if !model.Can(ws.Role, model.ActManageWallet) {
		w, err := h.Store.Wallet(ctx, actor, ws.ID)
		if err != nil {
			return views.WalletView{}, err
		}
		return views.WalletView{Balance: model.FormatCents(w.BalanceCents), CanTransfer: ws.Role == model.RoleOwner, Provider: h.Store.ProviderName(),
			TopUp: st.topUp, Transfer: st.transfer}, nil
	}
	// A manager's page is two statements: the wallet with the spending per
	// day, and a page of its history; one while the server keeps the
	// unfiltered first page (db/ledgerkeep.go). The filter is read first.
	var v views.WalletView
	f, err := parseEntryQuery(c)
	if err != nil {
		return v, err
	}
	f.Limit = db.WalletPageEntries
	// The member filter takes an email or an account id, as the audit log's
	// actor filter does: a 10,000-member org does not fit a list.
	member := strings.TrimSpace(c.QueryParam("member"))
	memberError := ""
	nobody := false
	if member != "" {
		f.UserID, nobody, err = h.memberID(ctx, member)
		if fields, _, ok := FieldErrors(err); ok {
			memberError, nobody = fields["member"], true
		} else if err != nil {
			return v, err
		}
	}
	// An email of no account: the same empty history as an account without entries.
	o, err := h.Store.WalletOverview(ctx, actor, ws.ID, f, !nobody, 30)
	if err != nil {
		return v, err
	}
	w := o.Wallet
	v = views.WalletView{Balance: model.FormatCents(w.BalanceCents), CanManage: true,
		CanTransfer: ws.Role == model.RoleOwner, Provider: h.Store.ProviderName(), TopUp: st.topUp, Transfer: st.transfer,
		Member: member, MemberError: memberError}
	if v.TopUp.Key == "" {
		v.TopUp.Key = formKey()
	}
	if v.Transfer.Key == "" {
		v.Transfer.Key = formKey()
	}
	if st.auto != nil {
		v.Auto = *st.auto
	} else {
		v.Auto = views.AutoTopUpForm{Enabled: w.Enabled, Threshold: dollars(w.ThresholdCents), Amount: dollars(w.TopUpAmountCents)}
	}
	v.AutoSummary = "Off"
	if w.Enabled {
		v.AutoSummary = "Add " + model.FormatCents(w.TopUpAmountCents) + " below " + model.FormatCents(w.ThresholdCents)
	}
	page := o.Entries
	now := h.Store.Now()
	for _, e := range page.Entries {
		row := views.EntryRow{ID: e.ID, When: views.Ago(e.CreatedAt, now), WhenFull: views.FormatTime(e.CreatedAt) + " UTC", Kind: e.Kind,
			Amount: model.FormatCents(e.AmountCents), Credit: e.AmountCents > 0, After: model.FormatCents(e.BalanceAfterCents), Actor: e.ActorEmail, Note: e.Note}
		if e.AmountCents > 0 {
			row.Amount = "+" + row.Amount
		}
		if row.Actor == "" {
			row.Actor = "Guildhall"
		}
		if e.TokenID != nil {
			row.Actor += " (API token " + strconv.FormatInt(*e.TokenID, 10) + ")"
		}
		if e.PackageID != nil {
			row.Package, row.PkgHref = e.PackageName, "/packages/"+strconv.FormatInt(*e.PackageID, 10)
		}
		v.Entries = append(v.Entries, row)
	}
	q := url.Values{}
	if f.Kind != "" {
		q.Set("kind", f.Kind)
	}
	if f.UserID != 0 {
		q.Set("user_id", strconv.FormatInt(f.UserID, 10))
		if v.Member == "" {
			v.Member = strconv.FormatInt(f.UserID, 10)
		}
	}
	v.Kind = f.Kind
	v.ExportHref = "/wallet/export.csv?" + q.Encode()
	if f.Before != 0 {
		v.FirstHref = "/wallet?" + q.Encode()
	}
	if page.Next != 0 {
		nq := url.Values{}
		for k, vs := range q {
			nq[k] = vs
		}
		nq.Set("cursor", strconv.FormatInt(page.Next, 10))
		v.NextHref = "/wallet?" + nq.Encode()
	}
	v.Kinds = []components.Option{{Value: "", Label: "All kinds"}}
	for _, k := range model.EntryKinds {
		v.Kinds = append(v.Kinds, components.Option{Value: k, Label: strings.ReplaceAll(k, "_", " ")})
	}
	days := o.Days
	ts := make([]time.Time, len(days))
	cs := make([]int64, len(days))
	for i, d := range days {
		ts[i], cs[i] = d.Day, d.Cents
	}
	v.Chart = views.NewSpendChart(ts, cs, model.FormatCents)
	if v.CanTransfer {
		for _, o := range request.Workspaces(c) {
			if o.ID != ws.ID && o.Role == model.RoleOwner {
				name := o.DisplayName
				if o.Personal() {
					name = "Personal"
				}
				v.Targets = append(v.Targets, components.Option{Value: strconv.FormatInt(o.ID, 10), Label: name})
			}
		}
	}
	return v, nil
}

// memberID reads the wallet's member filter: an account id, or an email
// (nobody: no account has it).
func (h *Wallet) memberID(ctx context.Context, member string) (id int64, nobody bool, err error) {
	if n, err := strconv.ParseInt(member, 10, 64); err == nil && n > 0 {
		return n, false, nil
	}
	if !strings.Contains(member, "@") || !model.ValidText(member) {
		return 0, false, model.InvalidField("member", "Enter an email or an account id.")
	}
	acc, err := h.Store.AccountByEmail(ctx, member)
	if model.CodeOf(err) == model.CodeNotFound {
		return 0, true, nil
	}
	return acc.ID, false, err
}

func parseEntryQuery(c echo.Context) (model.EntryFilter, error) {
	f := model.EntryFilter{Kind: strings.TrimSpace(c.QueryParam("kind"))}
	for name, dst := range map[string]*int64{"user_id": &f.UserID, "cursor": &f.Before} {
		if v := strings.TrimSpace(c.QueryParam(name)); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return f, model.InvalidField(name, name+" must be a positive number.")
			}
			*dst = n
		}
	}
	return f, nil
}

func (h *Wallet) render(c echo.Context, status int, st walletForms) error {
	v, err := h.view(c, st)
	if err != nil {
		return err
	}
	if v.MemberError != "" && status == http.StatusOK {
		status = http.StatusUnprocessableEntity // the filter is shown with its error
	}
	return Render(c, status, views.WalletPage(h.Shell(c, "Wallet", "wallet"), v))
}

// Page is GET /wallet.
func (h *Wallet) Page(c echo.Context) error { return h.render(c, http.StatusOK, walletForms{}) }

// formError re-renders a form with its field errors (422), or returns err.
func formError(err error, rename map[string]string) (map[string]string, string, bool) {
	if model.CodeOf(err) == model.CodeIdempotencyConflict {
		e, _ := model.AsError(err)
		return map[string]string{}, e.Message, true
	}
	fields, msg, ok := FieldErrors(err)
	if !ok {
		return nil, "", false
	}
	out := map[string]string{}
	for k, v := range fields {
		if r, ok := rename[k]; ok {
			k = r
		}
		out[k] = v
	}
	return out, msg, true
}

// TopUp is POST /wallet/top-up.
func (h *Wallet) TopUp(c echo.Context) error {
	ws := request.Workspace(c)
	form := views.MoneyForm{Amount: c.FormValue("amount"), Key: c.FormValue("idempotency_key")}
	amount, set, err := model.ParseDollars("amount", form.Amount)
	if err == nil && !set {
		err = model.InvalidField("amount", "Enter an amount in dollars.")
	}
	if err == nil {
		var res db.TopUpResult
		res, _, err = h.Store.TopUp(c.Request().Context(), request.Actor(c), ws.ID, amount, form.Key)
		if err == nil {
			msg := "Added " + model.FormatCents(amount) + ". The balance is " + model.FormatCents(res.BalanceCents) + "."
			if res.Status != "completed" {
				msg = "The charge of " + model.FormatCents(amount) + " is pending with " + res.Provider + "; the wallet is credited when it completes."
			}
			return Redirect(c, "/wallet", "success", msg)
		}
	}
	fields, msg, ok := formError(err, map[string]string{"amount_cents": "amount"})
	if !ok {
		return err
	}
	form.Errors, form.Message = fields, msg
	return h.render(c, http.StatusUnprocessableEntity, walletForms{topUp: form})
}

// AutoTopUp is POST /wallet/auto-top-up.
func (h *Wallet) AutoTopUp(c echo.Context) error {
	ws := request.Workspace(c)
	form := views.AutoTopUpForm{Enabled: c.FormValue("enabled") == "true", Threshold: c.FormValue("threshold"), Amount: c.FormValue("top_up_amount"), Errors: map[string]string{}}
	th, _, err1 := model.ParseDollars("threshold_cents", form.Threshold)
	amt, _, err2 := model.ParseDollars("top_up_amount_cents", form.Amount)
	var err error
	if err1 != nil || err2 != nil {
		for _, e := range []error{err1, err2} {
			if me, ok := model.AsError(e); ok {
				for k, v := range me.Fields {
					form.Errors[k] = v
				}
			}
		}
		return h.render(c, http.StatusUnprocessableEntity, walletForms{auto: &form})
	}
	_, err = h.Store.SetAutoTopUp(c.Request().Context(), request.Actor(c), ws.ID, model.AutoTopUp{Enabled: form.Enabled, ThresholdCents: th, TopUpAmountCents: amt})
	if err == nil {
		text := "Auto top-up is off."
		if form.Enabled {
			text = "Auto top-up adds " + model.FormatCents(amt) + " when the balance falls below " + model.FormatCents(th) + "."
		}
		return Redirect(c, "/wallet", "success", text)
	}
	fields, _, ok := formError(err, nil)
	if !ok {
		return err
	}
	form.Errors = fields
	return h.render(c, http.StatusUnprocessableEntity, walletForms{auto: &form})
}

// Transfer is POST /wallet/transfer.
func (h *Wallet) Transfer(c echo.Context) error {
	ws := request.Workspace(c)
	form := views.MoneyForm{Amount: c.FormValue("amount"), To: c.FormValue("to_org"), Key: c.FormValue("idempotency_key")}
	amount, set, err := model.ParseDollars("amount", form.Amount)
	if err == nil && !set {
		err = model.InvalidField("amount", "Enter an amount in dollars.")
	}
	to, perr := strconv.ParseInt(form.To, 10, 64)
	if err == nil && perr != nil {
		err = model.InvalidField("to_org", "Choose a workspace you own.")
	}
	if err == nil {
		_, _, err = h.Store.TransferCredits(c.Request().Context(), request.Actor(c), ws.ID, to, amount, form.Key)
		if err == nil {
			return Redirect(c, "/wallet", "success", "Moved "+model.FormatCents(amount)+" to the other workspace.")
		}
	}
	fields, msg, ok := formError(err, map[string]string{"amount_cents": "amount"})
	if !ok {
		if model.CodeOf(err) == model.CodeInsufficientFunds {
			e, _ := model.AsError(err)
			fields, msg = map[string]string{"amount": e.Message}, ""
		} else {
			return err
		}
	}
	form.Errors, form.Message = fields, msg
	return h.render(c, http.StatusUnprocessableEntity, walletForms{transfer: form})
}

// Export is GET /wallet/export.csv: every matching entry, newest first.
func (h *Wallet) Export(c echo.Context) error {
	ws := request.Workspace(c)
	f, err := parseEntryQuery(c)
	if err != nil {
		return err
	}
	res := c.Response()
	started := false
	cw := NewCSVWriter(res) // emails, names and notes are user text: no formulas
	err = h.Store.ExportEntries(c.Request().Context(), request.Actor(c), ws.ID, f, func(e model.LedgerEntry) error {
		if !started {
			started = true
			res.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
			res.Header().Set("Content-Disposition", `attachment; filename="wallet-`+ws.Slug+`-`+h.Store.Now().Format("20060102")+`.csv"`)
			res.WriteHeader(http.StatusOK)
			if err := cw.Write([]string{"id", "created_at", "kind", "amount_cents", "balance_after_cents", "user_id", "user_email", "package_id", "package", "note"}); err != nil {
				return err
			}
		}
		uid, pid := "", ""
		if e.AccountID != nil {
			uid = strconv.FormatInt(*e.AccountID, 10)
		}
		if e.PackageID != nil {
			pid = strconv.FormatInt(*e.PackageID, 10)
		}
		return cw.Write([]string{strconv.FormatInt(e.ID, 10), e.CreatedAt.UTC().Format(time.RFC3339), e.Kind,
			strconv.FormatInt(e.AmountCents, 10), strconv.FormatInt(e.BalanceAfterCents, 10), uid, e.ActorEmail, pid,
			e.PackageName, e.Note})
	})
	if err != nil {
		if started {
			return nil // the header is out; the file ends short
		}
		return err
	}
	if !started {
		res.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
		res.Header().Set("Content-Disposition", `attachment; filename="wallet-`+ws.Slug+`.csv"`)
		res.WriteHeader(http.StatusOK)
		_ = cw.Write([]string{"id", "created_at", "kind", "amount_cents", "balance_after_cents", "user_id", "user_email", "package_id", "package", "note"})
	}
	cw.Flush()
	return cw.Error()
}
