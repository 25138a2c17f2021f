package db_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"guildhall/db"
	"guildhall/db/model"
)

func (e *tgEnv) personalOrg(who model.Actor) int64 {
	e.t.Helper()
	var id int64
	if err := e.s.DB().Get(&id, `SELECT personal_org_id FROM accounts WHERE id = $1`, who.AccountID); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// TestCreateAgentRules: personal by default, billing refused, the plan
// limit, field validation.
func TestCreateAgentRules(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Owner")
	bill, _ := e.user("Billing")
	org := e.org(owner, "Makers")
	e.join(org, bill, model.RoleBilling)

	mine := e.agent(owner, 0, "Personal bot")
	if mine.OrgID != e.personalOrg(owner) || mine.Permission != model.PermAdmin || mine.Source.Rule != model.SourcePersonalOwner {
		t.Errorf("personal agent = %+v", mine)
	}
	_, err := e.s.CreateAgent(e.ctx, bill, org, model.AgentInput{Name: "Nope"})
	wantCode(t, err, model.CodeForbidden)
	e.wantAudit(org, "agent.created", model.OutcomeDenied, 1)
	_, err = e.s.CreateAgent(e.ctx, owner, org, model.AgentInput{Name: ""})
	wantCode(t, err, model.CodeValidation)
	_, err = e.s.CreateAgent(e.ctx, owner, org, model.AgentInput{Name: "x", Description: strings.Repeat("d", 501)})
	wantCode(t, err, model.CodeValidation)
	// Another org's id is not found.
	stranger, _ := e.user("Stranger")
	_, err = e.s.CreateAgent(e.ctx, stranger, org, model.AgentInput{Name: "Intruder"})
	wantCode(t, err, model.CodeNotFound)

	e.exec(`UPDATE orgs SET limit_agents = 2 WHERE id = $1`, org)
	e.agent(owner, org, "One")
	e.agent(owner, org, "Two")
	_, err = e.s.CreateAgent(e.ctx, owner, org, model.AgentInput{Name: "Three"})
	wantCode(t, err, model.CodePlanLimit)
	if n := e.count(`SELECT count(*) FROM agents WHERE org_id = $1`, org); n != 2 {
		t.Errorf("%d agents, want 2", n)
	}
}

// TestCreateAgentLimitConcurrent: the plan limit holds under concurrency.
func TestCreateAgentLimitConcurrent(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Owner")
	org := e.org(owner, "Racers")
	e.exec(`UPDATE orgs SET limit_agents = 3 WHERE id = $1`, org)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = e.s.CreateAgent(e.ctx, owner, org, model.AgentInput{Name: "racer"})
		}()
	}
	wg.Wait()
	if n := e.count(`SELECT count(*) FROM agents WHERE org_id = $1`, org); n != 3 {
		t.Errorf("%d agents, want 3", n)
	}
}

// TestUpdateDeleteAgentLevels: edit needs write, delete needs admin, and
// deleting drops the agent's grants.
func TestUpdateDeleteAgentLevels(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Owner")
	reader, _ := e.user("Reader")
	writer, _ := e.user("Writer")
	org := e.org(owner, "Levels")
	e.join(org, reader, model.RoleMember)
	e.join(org, writer, model.RoleMember)
	ag := e.agent(owner, org, "Bot")
	for who, lvl := range map[model.Actor]string{reader: "read", writer: "write"} {
		tm := e.team(owner, org, lvl+"ers")
		if _, err := e.s.SetTeamMember(e.ctx, owner, org, tm.ID, who.AccountID, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.SetGrant(e.ctx, owner, org, tm.ID, db.SetGrantInput{ResourceID: ag.ID, Permission: lvl}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := e.s.UpdateAgent(e.ctx, reader, ag.ID, db.UpdateAgentInput{Config: ptr("x")})
	wantCode(t, err, model.CodeForbidden)
	up, err := e.s.UpdateAgent(e.ctx, writer, ag.ID, db.UpdateAgentInput{Name: ptr(" Better bot "), Config: ptr("model: small")})
	if err != nil || up.Name != "Better bot" || up.Config != "model: small" || up.Description != "does Bot" || up.Permission != model.PermWrite {
		t.Fatalf("update = %+v, %v", up, err)
	}
	_, err = e.s.UpdateAgent(e.ctx, writer, ag.ID, db.UpdateAgentInput{Name: ptr("")})
	wantCode(t, err, model.CodeValidation)
	err = e.s.DeleteAgent(e.ctx, writer, ag.ID)
	wantCode(t, err, model.CodeForbidden)
	_, _, err = e.s.TransferAgent(e.ctx, writer, ag.ID, "someone@example.com")
	wantCode(t, err, model.CodeForbidden)
	e.wantAudit(org, "agent.updated", model.OutcomeDenied, 1)
	e.wantAudit(org, "agent.deleted", model.OutcomeDenied, 1)
	e.wantAudit(org, "agent.updated", model.OutcomeSuccess, 1)

	gs, err := e.s.AgentGrants(e.ctx, reader.AccountID, ag.ID)
	if err != nil || len(gs) != 2 {
		t.Errorf("agent grants = %+v, %v", gs, err)
	}
	if err := e.s.DeleteAgent(e.ctx, owner, ag.ID); err != nil {
		t.Fatal(err)
	}
	if n := e.count(`SELECT count(*) FROM grants`); n != 0 {
		t.Errorf("%d grants left", n)
	}
	_, err = e.s.GetAgent(e.ctx, owner.AccountID, ag.ID)
	wantCode(t, err, model.CodeNotFound)
	e.wantAudit(org, "agent.deleted", model.OutcomeSuccess, 1)
}

// TestMoveAgentToOrg: a personal agent moves into a team org; its creator
// keeps admin; other members see it through the org's rules.
func TestMoveAgentToOrg(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Owner")
	dev, _ := e.user("Dev")
	colleague, _ := e.user("Colleague")
	org := e.org(owner, "Team Org")
	billOrg := e.org(owner, "Bill Org")
	e.join(org, dev, model.RoleMember)
	e.join(org, colleague, model.RoleMember)
	e.join(billOrg, dev, model.RoleBilling)
	stranger := e.org(e.mustUser("Stranger"), "Strangers")

	ag := e.agent(dev, 0, "Side project")
	personal := e.personalOrg(dev)

	_, err := e.s.MoveAgentToOrg(e.ctx, dev, ag.ID, billOrg)
	wantCode(t, err, model.CodeForbidden)
	_, err = e.s.MoveAgentToOrg(e.ctx, dev, ag.ID, stranger)
	wantCode(t, err, model.CodeValidation)
	_, err = e.s.MoveAgentToOrg(e.ctx, dev, ag.ID, personal)
	wantCode(t, err, model.CodeValidation)
	_, err = e.s.MoveAgentToOrg(e.ctx, colleague, ag.ID, org)
	wantCode(t, err, model.CodeNotFound)
	e.wantAudit(personal, "agent.moved_to_org", model.OutcomeDenied, 1)

	moved, err := e.s.MoveAgentToOrg(e.ctx, dev, ag.ID, org)
	if err != nil {
		t.Fatal(err)
	}
	if moved.OrgID != org || moved.CreatedBy == nil || *moved.CreatedBy != dev.AccountID ||
		moved.Permission != model.PermAdmin || moved.Source.Rule != model.SourceCreator {
		t.Errorf("moved = %+v", moved)
	}
	e.wantAccess(owner, ag.ID, model.PermAdmin, model.SourceOrgRole)
	e.wantAccess(colleague, ag.ID, model.PermNone, model.SourceNone)
	e.wantAudit(personal, "agent.moved_to_org", model.OutcomeSuccess, 1)
	e.wantAudit(org, "agent.moved_to_org", model.OutcomeSuccess, 1)
	// It is no longer in the personal workspace, so cannot be moved again.
	_, err = e.s.MoveAgentToOrg(e.ctx, dev, ag.ID, org)
	wantCode(t, err, model.CodeForbidden)
	// The target's plan limit applies.
	other := e.agent(dev, 0, "Another")
	e.exec(`UPDATE orgs SET limit_agents = 1 WHERE id = $1`, org)
	_, err = e.s.MoveAgentToOrg(e.ctx, dev, other.ID, org)
	wantCode(t, err, model.CodePlanLimit)
}

// TestTransferAgent: another agent is transferred to a colleague who accepts:
// the recipient owns it and the sender loses access.
func TestTransferAgent(t *testing.T) {
	e := newTG(t)
	sender, _ := e.user("Sender")
	recip, _ := e.user("Recipient")
	nosy, _ := e.user("Nosy")
	ag := e.agent(sender, 0, "Gift bot")
	from := e.personalOrg(sender)

	_, _, err := e.s.TransferAgent(e.ctx, recip, ag.ID, recip.Email)
	wantCode(t, err, model.CodeNotFound)
	_, _, err = e.s.TransferAgent(e.ctx, sender, ag.ID, "not an email")
	wantCode(t, err, model.CodeValidation)
	_, _, err = e.s.TransferAgent(e.ctx, sender, ag.ID, sender.Email)
	wantCode(t, err, model.CodeValidation)

	token, tr, err := e.s.TransferAgent(e.ctx, sender, ag.ID, " "+strings.ToUpper(recip.Email))
	if err != nil {
		t.Fatal(err)
	}
	if token == "" || tr.ToEmail != recip.Email || tr.Status != model.TransferPending ||
		!tr.ExpiresAt.Equal(e.s.Now().Add(model.AgentTransferTTL)) || tr.AgentName != "Gift bot" || tr.FromEmail != sender.Email {
		t.Errorf("transfer = %+v", tr)
	}
	_, _, err = e.s.TransferAgent(e.ctx, sender, ag.ID, nosy.Email)
	wantCode(t, err, model.CodeConflict)
	if p, err := e.s.PendingAgentTransfer(e.ctx, sender.AccountID, ag.ID); err != nil || p == nil || p.ID != tr.ID {
		t.Errorf("pending = %+v, %v", p, err)
	}

	mine, err := e.s.MyAgentTransfers(e.ctx, recip.AccountID)
	if err != nil || len(mine) != 1 || mine[0].ID != tr.ID {
		t.Errorf("recipient's transfers = %+v, %v", mine, err)
	}
	if theirs, _ := e.s.MyAgentTransfers(e.ctx, nosy.AccountID); len(theirs) != 0 {
		t.Errorf("nosy sees %+v", theirs)
	}
	if link, err := e.s.AgentTransferByToken(e.ctx, token); err != nil || link.ID != tr.ID {
		t.Errorf("by token = %+v, %v", link, err)
	}
	// Someone else cannot take it, by id or with the forwarded link.
	_, err = e.s.AcceptAgentTransfer(e.ctx, nosy, db.TransferRef{ID: tr.ID})
	wantCode(t, err, model.CodeNotFound)
	_, err = e.s.AcceptAgentTransfer(e.ctx, nosy, db.TransferRef{Token: token})
	wantCode(t, err, model.CodeForbidden)
	e.wantAudit(from, "agent.transferred", model.OutcomeDenied, 1)

	got, err := e.s.AcceptAgentTransfer(e.ctx, recip, db.TransferRef{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	if got.OrgID != e.personalOrg(recip) || got.CreatedBy == nil || *got.CreatedBy != recip.AccountID || got.Permission != model.PermAdmin {
		t.Errorf("accepted agent = %+v", got)
	}
	_, err = e.s.GetAgent(e.ctx, sender.AccountID, ag.ID)
	wantCode(t, err, model.CodeNotFound)
	e.wantAccess(sender, ag.ID, model.PermNone, model.SourceNoMembership)
	if page := e.listed(sender, 0); len(page) != 0 {
		t.Errorf("sender still lists %v", page)
	}
	_, err = e.s.AcceptAgentTransfer(e.ctx, recip, db.TransferRef{ID: tr.ID})
	wantCode(t, err, model.CodeConflict)
	e.wantAudit(from, "agent.transferred", model.OutcomeSuccess, 1)
	e.wantAudit(e.personalOrg(recip), "agent.transferred", model.OutcomeSuccess, 1)
	e.wantAudit(from, "agent.transfer_requested", model.OutcomeSuccess, 1)
}

// TestTransferFromTeamOrg: a transfer out of a team org drops its grants and
// every member's access.
func TestTransferFromTeamOrg(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Owner")
	member, _ := e.user("Member")
	recip, _ := e.user("Recipient")
	org := e.org(owner, "Givers")
	e.join(org, member, model.RoleMember)
	ag := e.agent(owner, org, "Team bot")
	tm := e.team(owner, org, "Users")
	if _, err := e.s.SetTeamMember(e.ctx, owner, org, tm.ID, member.AccountID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.SetGrant(e.ctx, owner, org, tm.ID, db.SetGrantInput{ResourceID: ag.ID}); err != nil {
		t.Fatal(err)
	}
	_, tr, err := e.s.TransferAgent(e.ctx, owner, ag.ID, recip.Email)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.AcceptAgentTransfer(e.ctx, recip, db.TransferRef{ID: tr.ID}); err != nil {
		t.Fatal(err)
	}
	e.wantAccess(owner, ag.ID, model.PermNone, model.SourceNoMembership)
	e.wantAccess(member, ag.ID, model.PermNone, model.SourceNoMembership)
	e.wantAccess(recip, ag.ID, model.PermAdmin, model.SourcePersonalOwner)
	if n := e.count(`SELECT count(*) FROM grants`); n != 0 {
		t.Errorf("%d grants left", n)
	}
}

// TestTransferExpiryAndDecline: a transfer expires after seven days (the
// injected clock), can then be sent again, and can be declined or cancelled.
func TestTransferExpiryAndDecline(t *testing.T) {
	e := newTG(t)
	sender, _ := e.user("Sender")
	recip, _ := e.user("Recipient")
	ag := e.agent(sender, 0, "Bot")
	from := e.personalOrg(sender)

	_, tr, err := e.s.TransferAgent(e.ctx, sender, ag.ID, recip.Email)
	if err != nil {
		t.Fatal(err)
	}
	e.advance(model.AgentTransferTTL + time.Second)
	if mine, _ := e.s.MyAgentTransfers(e.ctx, recip.AccountID); len(mine) != 0 {
		t.Errorf("expired transfer still listed: %+v", mine)
	}
	_, err = e.s.AcceptAgentTransfer(e.ctx, recip, db.TransferRef{ID: tr.ID})
	wantCode(t, err, model.CodeConflict)
	e.wantAccess(sender, ag.ID, model.PermAdmin, model.SourcePersonalOwner)

	// Sent again: the expired one no longer blocks.
	_, tr2, err := e.s.TransferAgent(e.ctx, sender, ag.ID, recip.Email)
	if err != nil {
		t.Fatal(err)
	}
	if n := e.count(`SELECT count(*) FROM agent_transfers WHERE status = 'expired'`); n != 1 {
		t.Errorf("%d expired transfers, want 1", n)
	}
	d, err := e.s.DeclineAgentTransfer(e.ctx, recip, db.TransferRef{ID: tr2.ID})
	if err != nil || d.Status != model.TransferDeclined {
		t.Fatalf("decline = %+v, %v", d, err)
	}
	e.wantAccess(sender, ag.ID, model.PermAdmin, model.SourcePersonalOwner)
	e.wantAudit(from, "agent.transfer_declined", model.OutcomeSuccess, 1)

	// Cancelled by the sender.
	_, tr3, err := e.s.TransferAgent(e.ctx, sender, ag.ID, recip.Email)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.s.CancelAgentTransfer(e.ctx, sender, ag.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.s.AcceptAgentTransfer(e.ctx, recip, db.TransferRef{ID: tr3.ID})
	wantCode(t, err, model.CodeConflict)
	err = e.s.CancelAgentTransfer(e.ctx, sender, ag.ID)
	wantCode(t, err, model.CodeNotFound)

	// An unverified recipient must verify first.
	e.exec(`UPDATE accounts SET email_verified_at = NULL WHERE id = $1`, recip.AccountID)
	token, _, err := e.s.TransferAgent(e.ctx, sender, ag.ID, recip.Email)
	if err != nil {
		t.Fatal(err)
	}
	if mine, _ := e.s.MyAgentTransfers(e.ctx, recip.AccountID); len(mine) != 0 {
		t.Errorf("unverified recipient sees %+v", mine)
	}
	_, err = e.s.AcceptAgentTransfer(e.ctx, recip, db.TransferRef{Token: token})
	wantCode(t, err, model.CodeForbidden)
}

// TestMoveCancelsPendingTransfer: moving an agent into an org withdraws a
// pending transfer of it.
func TestMoveCancelsPendingTransfer(t *testing.T) {
	e := newTG(t)
	dev, _ := e.user("Dev")
	recip, _ := e.user("Recipient")
	org := e.org(dev, "Dev Org")
	ag := e.agent(dev, 0, "Bot")
	_, tr, err := e.s.TransferAgent(e.ctx, dev, ag.ID, recip.Email)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.MoveAgentToOrg(e.ctx, dev, ag.ID, org); err != nil {
		t.Fatal(err)
	}
	_, err = e.s.AcceptAgentTransfer(e.ctx, recip, db.TransferRef{ID: tr.ID})
	wantCode(t, err, model.CodeConflict)
}

// TestTransferAcceptRacesMoveAndDelete: a recipient accepting while the
// sender deletes, moves or cancels the agent gets a clean answer either way,
// never a database deadlock (accept used to lock the transfer before the
// agent, the reverse of every other agent change), and exactly one side wins.
func TestTransferAcceptRacesMoveAndDelete(t *testing.T) {
	e := newTG(t)
	dev, _ := e.user("Dev")
	recip, _ := e.user("Recipient")
	org := e.org(dev, "Dev Org")
	e.exec(`UPDATE orgs SET limit_agents = 1000`)
	for round := 0; round < 36; round++ {
		ag := e.agent(dev, 0, "Bot")
		_, tr, err := e.s.TransferAgent(e.ctx, dev, ag.ID, recip.Email)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		var acceptErr, otherErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			_, acceptErr = e.s.AcceptAgentTransfer(e.ctx, recip, db.TransferRef{ID: tr.ID})
		}()
		go func() {
			defer wg.Done()
			<-start
			switch round % 3 {
			case 0:
				otherErr = e.s.DeleteAgent(e.ctx, dev, ag.ID)
			case 1:
				_, otherErr = e.s.MoveAgentToOrg(e.ctx, dev, ag.ID, org)
			case 2:
				otherErr = e.s.CancelAgentTransfer(e.ctx, dev, ag.ID)
			}
		}()
		close(start)
		wg.Wait()
		for _, err := range []error{acceptErr, otherErr} {
			if err != nil && model.CodeOf(err) == "" {
				t.Fatalf("round %d: internal error %v", round, err)
			}
		}
		if (acceptErr == nil) == (otherErr == nil) {
			t.Fatalf("round %d: accept %v, other %v: exactly one must win", round, acceptErr, otherErr)
		}
		if acceptErr == nil {
			e.wantAccess(recip, ag.ID, model.PermAdmin, model.SourcePersonalOwner)
		}
	}
}

// TestTransferNeedsSenderStillAdmin: a transfer out of a team org stands only
// while its sender may still transfer the agent. A member removed from the
// org (or stripped of their grant) cannot have the org's agent handed to them
// after the fact.
func TestTransferNeedsSenderStillAdmin(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Owner")
	leaver, _ := e.user("Leaver")
	granted, _ := e.user("Granted")
	org := e.org(owner, "Keepers")
	e.join(org, leaver, model.RoleMember)
	e.join(org, granted, model.RoleMember)
	ag := e.agent(owner, org, "Crown jewels")
	tm := e.team(owner, org, "Admins")
	for _, who := range []model.Actor{leaver, granted} {
		if _, err := e.s.SetTeamMember(e.ctx, owner, org, tm.ID, who.AccountID, ""); err != nil {
			t.Fatal(err)
		}
	}
	g, err := e.s.SetGrant(e.ctx, owner, org, tm.ID, db.SetGrantInput{ResourceID: ag.ID, Permission: "admin"})
	if err != nil {
		t.Fatal(err)
	}

	// The leaver offers the agent to their own personal address, then is removed.
	_, tr, err := e.s.TransferAgent(e.ctx, leaver, ag.ID, leaver.Email)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.s.RemoveMember(e.ctx, owner, org, leaver.AccountID); err != nil {
		t.Fatal(err)
	}
	_, err = e.s.AcceptAgentTransfer(e.ctx, leaver, db.TransferRef{ID: tr.ID})
	wantCode(t, err, model.CodeConflict)
	e.wantAccess(owner, ag.ID, model.PermAdmin, model.SourceOrgRole)
	if n := e.count(`SELECT count(*) FROM agent_transfers WHERE id = $1 AND status = 'cancelled'`, tr.ID); n != 1 {
		t.Error("removing the member left their transfer pending")
	}

	// Losing the grant ends the offer too; with it, the offer works.
	recip, _ := e.user("Recipient")
	_, tr, err = e.s.TransferAgent(e.ctx, granted, ag.ID, recip.Email)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.s.RemoveGrant(e.ctx, owner, org, tm.ID, g.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.s.AcceptAgentTransfer(e.ctx, recip, db.TransferRef{ID: tr.ID})
	wantCode(t, err, model.CodeConflict)
	if _, err := e.s.SetGrant(e.ctx, owner, org, tm.ID, db.SetGrantInput{ResourceID: ag.ID, Permission: "admin"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.AcceptAgentTransfer(e.ctx, recip, db.TransferRef{ID: tr.ID}); err != nil {
		t.Fatalf("accept while the sender is admin again: %v", err)
	}
	e.wantAccess(recip, ag.ID, model.PermAdmin, model.SourcePersonalOwner)
}
