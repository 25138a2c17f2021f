package handlers

import (
	"context"
	"fmt"

	"guildhall/db/model"
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
