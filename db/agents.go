package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"guildhall/db/model"
)

// CreateAgent creates an agent in org orgID (0: the actor's personal
// workspace). Owners, admins and members create agents; billing members do
// not. The org's plan limits how many agents it holds.
func (s *Store) CreateAgent(ctx context.Context, actor model.Actor, orgID int64, in model.AgentInput) (model.Agent, error) {
	var a model.Agent
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		if orgID == 0 {
			if err := tx.GetContext(ctx, &orgID, `SELECT COALESCE(personal_org_id, 0) FROM accounts WHERE id = $1`, actor.AccountID); err != nil {
				return notFound(err, "account")
			}
		}
		if _, err := tx.plainRole(orgID, actor.AccountID); err != nil {
			return err
		}
		org, err := tx.lockOrg(orgID)
		if err != nil {
			return err
		}
		r, err := tx.shareRole(orgID, actor.AccountID)
		if err != nil {
			return err
		}
		if !model.Can(r.Role, model.ActUseResources) {
			return tx.Deny(orgID, "agent.created", model.Target{Kind: "agent", Label: in.Name},
				model.Forbidden("Billing members cannot create agents."))
		}
		if err := in.Normalize(); err != nil {
			return err
		}
		if err := tx.checkAgentLimit(org, 1); err != nil {
			return err
		}
		var id int64
		err = tx.GetContext(ctx, &id, `INSERT INTO agents (org_id, created_by, name, description, config, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id`, orgID, actor.AccountID, in.Name, in.Description, in.Config, tx.Now())
		if err != nil {
			return fmt.Errorf("insert agent: %w", err)
		}
		if a, err = agentFor(ctx, tx, actor.AccountID, id, false); err != nil {
			return err
		}
		return tx.Record(orgID, "agent.created", agentTarget(a))
	})
	return a, err
}

// plainRole reads accountID's role in org without a lock; not a member is not
// found. Used to answer not found before taking the org's row lock.
func (tx *Tx) plainRole(orgID, accountID int64) (model.Role, error) {
	var r model.Role
	err := tx.GetContext(tx.ctx, &r, `SELECT role FROM memberships WHERE org_id = $1 AND account_id = $2`, orgID, accountID)
	return r, notFound(err, "organization")
}

// checkAgentLimit checks the org (locked by the caller) may hold adding more
// agents.
func (tx *Tx) checkAgentLimit(org model.Org, adding int) error {
	var n int
	if err := tx.GetContext(tx.ctx, &n, `SELECT count(*) FROM agents WHERE org_id = $1`, org.ID); err != nil {
		return fmt.Errorf("count agents: %w", err)
	}
	return model.CheckLimit(model.LimitAgents, n+adding, org.LimitAgents)
}

// GetAgent loads an agent with accountID's permission on it. An agent the
// account may not read is not found, exactly like one that does not exist.
func (s *Store) GetAgent(ctx context.Context, accountID, agentID int64) (model.Agent, error) {
	a, err := s.agent(ctx, accountID, agentID)
	if err != nil {
		return a, err
	}
	if !a.Permission.AtLeast(model.PermRead) {
		return model.Agent{}, model.NotFound("agent")
	}
	return a, nil
}

// lockAgent loads and row-locks an agent for a change that needs level need.
// No read is not found; read without the level is forbidden, audited as
// action in the agent's org.
func (tx *Tx) lockAgent(agentID int64, need model.Permission, action, msg string) (model.Agent, error) {
	a, err := agentFor(tx.ctx, tx, tx.actor.AccountID, agentID, true)
	if err != nil {
		return a, err
	}
	if !a.Permission.AtLeast(model.PermRead) {
		return model.Agent{}, model.NotFound("agent")
	}
	if !a.Permission.AtLeast(need) {
		return a, tx.Deny(a.OrgID, action, agentTarget(a), model.Forbidden("%s", msg))
	}
	return a, nil
}

// UpdateAgentInput holds what PATCH may change; nil means unchanged.
type UpdateAgentInput struct {
	Name        *string
	Description *string
	Config      *string
}

// UpdateAgent changes an agent's name, description or config (write needed).
func (s *Store) UpdateAgent(ctx context.Context, actor model.Actor, agentID int64, in UpdateAgentInput) (model.Agent, error) {
	var a model.Agent
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		cur, err := tx.lockAgent(agentID, model.PermWrite, "agent.updated", "Editing this agent needs write access.")
		if err != nil {
			return err
		}
		next := model.AgentInput{Name: cur.Name, Description: cur.Description, Config: cur.Config}
		if in.Name != nil {
			next.Name = *in.Name
		}
		if in.Description != nil {
			next.Description = *in.Description
		}
		if in.Config != nil {
			next.Config = *in.Config
		}
		if err := next.Normalize(); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE agents SET name = $1, description = $2, config = $3, updated_at = $4 WHERE id = $5`,
			next.Name, next.Description, next.Config, tx.Now(), agentID); err != nil {
			return fmt.Errorf("update agent: %w", err)
		}
		if a, err = agentFor(ctx, tx, actor.AccountID, agentID, false); err != nil {
			return err
		}
		return tx.Record(a.OrgID, "agent.updated", agentTarget(a))
	})
	return a, err
}

// DeleteAgent deletes an agent with its grants and transfers (admin needed).
func (s *Store) DeleteAgent(ctx context.Context, actor model.Actor, agentID int64) error {
	return s.InTx(ctx, actor, func(tx *Tx) error {
		a, err := tx.lockAgent(agentID, model.PermAdmin, "agent.deleted", "Deleting this agent needs admin access.")
		if err != nil {
			return err
		}
		if err := tx.dropGrants(a.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM agents WHERE id = $1`, a.ID); err != nil {
			return fmt.Errorf("delete agent: %w", err)
		}
		return tx.Record(a.OrgID, "agent.deleted", agentTarget(a))
	})
}

// dropGrants removes every grant on an agent: grants are polymorphic, so no
// foreign key does it when the agent is deleted or leaves its org.
func (tx *Tx) dropGrants(agentID int64) error {
	if _, err := tx.ExecContext(tx.ctx, `DELETE FROM grants WHERE resource_kind = 'agent' AND resource_id = $1`, agentID); err != nil {
		return fmt.Errorf("remove grants: %w", err)
	}
	return nil
}

// MoveAgentToOrg moves an agent from the actor's personal workspace into a
// team org where the actor's role can own resources (SPEC 7). There is no
// acceptance step; the actor stays its creator, so keeps admin. Its grants
// (none in a personal org) and any pending transfer are dropped.
func (s *Store) MoveAgentToOrg(ctx context.Context, actor model.Actor, agentID, targetOrgID int64) (model.Agent, error) {
	var a model.Agent
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		// Not a member of the target is not found, before any lock.
		if _, err := tx.plainRole(targetOrgID, actor.AccountID); err != nil {
			return model.InvalidField("org_id", "Choose an organization you belong to.")
		}
		target, err := tx.lockOrg(targetOrgID)
		if err != nil {
			return err
		}
		r, err := tx.shareRole(targetOrgID, actor.AccountID)
		if err != nil {
			return err
		}
		cur, err := tx.lockAgent(agentID, model.PermAdmin, "agent.moved_to_org", "Moving this agent needs admin access.")
		if err != nil {
			return err
		}
		var personal int64
		if err := tx.GetContext(ctx, &personal, `SELECT COALESCE(personal_org_id, 0) FROM accounts WHERE id = $1`, actor.AccountID); err != nil {
			return fmt.Errorf("load account: %w", err)
		}
		inPersonal := cur.OrgKind == model.OrgPersonal && cur.OrgID == personal
		if err := model.CanMoveAgentToOrg(inPersonal, target.Kind, r.Role); err != nil {
			if model.CodeOf(err) == model.CodeForbidden {
				return tx.Deny(cur.OrgID, "agent.moved_to_org", agentTarget(cur), err)
			}
			return err
		}
		if err := tx.checkAgentLimit(target, 1); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE agents SET org_id = $1, updated_at = $2 WHERE id = $3`, target.ID, tx.Now(), cur.ID); err != nil {
			return fmt.Errorf("move agent: %w", err)
		}
		if err := tx.dropGrants(cur.ID); err != nil {
			return err
		}
		if err := tx.cancelPendingTransfers(cur.ID); err != nil {
			return err
		}
		if a, err = agentFor(ctx, tx, actor.AccountID, cur.ID, false); err != nil {
			return err
		}
		t := agentTarget(a)
		t.Label = a.Name + " to " + target.Slug
		if err := tx.Record(cur.OrgID, "agent.moved_to_org", t); err != nil {
			return err
		}
		return tx.Record(target.ID, "agent.moved_to_org", t)
	})
	return a, err
}

func (tx *Tx) cancelPendingTransfers(agentID int64) error {
	_, err := tx.ExecContext(tx.ctx, `UPDATE agent_transfers SET status = 'cancelled', updated_at = $1
		WHERE agent_id = $2 AND status = 'pending'`, tx.Now(), agentID)
	if err != nil {
		return fmt.Errorf("cancel transfers: %w", err)
	}
	return nil
}

const transferSelect = `SELECT tr.id, tr.agent_id, ag.name AS agent_name, tr.from_org_id, o.display_name AS from_org_name,
	tr.from_account_id, COALESCE(fa.name, '') AS from_name, COALESCE(fa.email, '') AS from_email,
	tr.to_email, tr.status, tr.expires_at, tr.created_at
	FROM agent_transfers tr
	CROSS JOIN LATERAL (SELECT * FROM agents ag WHERE ag.id = tr.agent_id OFFSET 0) ag
	CROSS JOIN LATERAL (SELECT * FROM orgs o WHERE o.id = tr.from_org_id OFFSET 0) o
	LEFT JOIN LATERAL (SELECT * FROM accounts fa WHERE fa.id = tr.from_account_id OFFSET 0) fa ON true`

func transferTarget(t model.AgentTransfer) model.Target {
	return model.Target{Kind: "agent", ID: strconv.FormatInt(t.AgentID, 10), Label: t.AgentName + " to " + t.ToEmail}
}

// TransferAgent offers an agent to a person by email (admin on the agent
// needed). The transfer waits for the recipient for AgentTransferTTL; one
// transfer per agent is pending at a time. It returns the secret for the
// emailed link; only its hash is kept.
func (s *Store) TransferAgent(ctx context.Context, actor model.Actor, agentID int64, email string) (string, model.AgentTransfer, error) {
	var token string
	var out model.AgentTransfer
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		a, err := tx.lockAgent(agentID, model.PermAdmin, "agent.transfer_requested", "Transferring this agent needs admin access.")
		if err != nil {
			return err
		}
		email = model.NormalizeEmail(email)
		if err := model.ValidateEmail(email); err != nil {
			return model.InvalidField("email", msgOf(err))
		}
		var me struct {
			Email    string `db:"email"`
			Personal int64  `db:"personal_org_id"`
		}
		if err := tx.GetContext(ctx, &me, `SELECT email, COALESCE(personal_org_id, 0) AS personal_org_id FROM accounts WHERE id = $1`, actor.AccountID); err != nil {
			return fmt.Errorf("load account: %w", err)
		}
		if email == me.Email && a.OrgID == me.Personal {
			return model.InvalidField("email", "This agent is already in your personal workspace.")
		}
		if _, err := tx.ExecContext(ctx, `UPDATE agent_transfers SET status = 'expired', updated_at = $1
			WHERE agent_id = $2 AND status = 'pending' AND expires_at <= $1`, tx.Now(), a.ID); err != nil {
			return fmt.Errorf("expire transfers: %w", err)
		}
		var pendingTo string
		err = tx.GetContext(ctx, &pendingTo, `SELECT to_email FROM agent_transfers WHERE agent_id = $1 AND status = 'pending'`, a.ID)
		if err == nil {
			return model.Conflict("A transfer of this agent to %s is already pending. Cancel it first.", pendingTo)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("check transfers: %w", err)
		}
		secret, hash := NewSecret("agt_")
		var id int64
		err = tx.GetContext(ctx, &id, `INSERT INTO agent_transfers (agent_id, from_org_id, from_account_id, to_email, token_hash,
			expires_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id`,
			a.ID, a.OrgID, actor.AccountID, email, hash, tx.Now().Add(model.AgentTransferTTL), tx.Now())
		if isUniqueViolation(err, "agent_transfers_pending_key") {
			return model.Conflict("A transfer of this agent is already pending. Cancel it first.")
		}
		if err != nil {
			return fmt.Errorf("insert transfer: %w", err)
		}
		if err := tx.GetContext(ctx, &out, transferSelect+` WHERE tr.id = $1`, id); err != nil {
			return fmt.Errorf("load transfer: %w", err)
		}
		token = secret
		return tx.Record(a.OrgID, "agent.transfer_requested", transferTarget(out))
	})
	if err != nil {
		return "", model.AgentTransfer{}, err
	}
	return token, out, nil
}

// PendingAgentTransfer is the agent's pending transfer, if any, for its
// admins (nil when none).
func (s *Store) PendingAgentTransfer(ctx context.Context, accountID, agentID int64) (*model.AgentTransfer, error) {
	a, err := s.GetAgent(ctx, accountID, agentID)
	if err != nil {
		return nil, err
	}
	return s.PendingTransferOf(ctx, a)
}

// PendingTransferOf is PendingAgentTransfer for an agent the caller has just
// read with GetAgent (its viewer's level decides), sparing a second read.
func (s *Store) PendingTransferOf(ctx context.Context, a model.Agent) (*model.AgentTransfer, error) {
	if !a.Permission.AtLeast(model.PermAdmin) {
		return nil, nil
	}
	var t model.AgentTransfer
	err := s.db.GetContext(ctx, &t, transferSelect+` WHERE tr.agent_id = $1 AND tr.status = 'pending' AND tr.expires_at > $2`, a.ID, s.Now())
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load transfer: %w", err)
	}
	return &t, nil
}

// CancelAgentTransfer withdraws a pending transfer (admin on the agent).
func (s *Store) CancelAgentTransfer(ctx context.Context, actor model.Actor, agentID int64) error {
	return s.InTx(ctx, actor, func(tx *Tx) error {
		a, err := tx.lockAgent(agentID, model.PermAdmin, "agent.transfer_cancelled", "Cancelling this transfer needs admin access.")
		if err != nil {
			return err
		}
		var t model.AgentTransfer
		err = tx.GetContext(ctx, &t, transferSelect+` WHERE tr.agent_id = $1 AND tr.status = 'pending'`, a.ID)
		if err != nil {
			return notFound(err, "transfer")
		}
		if err := tx.cancelPendingTransfers(a.ID); err != nil {
			return err
		}
		return tx.Record(a.OrgID, "agent.transfer_cancelled", transferTarget(t))
	})
}

// MyAgentTransfers lists the pending, unexpired transfers to the account's
// verified email (the banner and GET /api/me/agent-transfers).
func (s *Store) MyAgentTransfers(ctx context.Context, accountID int64) ([]model.AgentTransfer, error) {
	ts := []model.AgentTransfer{}
	err := s.db.SelectContext(ctx, &ts, transferSelect+`
		JOIN accounts me ON me.id = $1 AND me.email_verified_at IS NOT NULL AND me.email = tr.to_email
		WHERE tr.status = 'pending' AND tr.expires_at > $2 ORDER BY tr.id`, accountID, s.Now())
	if err != nil {
		return nil, fmt.Errorf("list agent transfers: %w", err)
	}
	return ts, nil
}

// AgentTransferByToken loads a transfer from its emailed link, whatever its
// status, for the link's page.
func (s *Store) AgentTransferByToken(ctx context.Context, token string) (model.AgentTransfer, error) {
	var t model.AgentTransfer
	err := s.db.GetContext(ctx, &t, transferSelect+` WHERE tr.token_hash = $1`, HashSecret(strings.TrimSpace(token)))
	return t, notFound(err, "transfer")
}

// TransferRef names a transfer by id (in-app, for its recipient) or by the
// emailed link's token.
type TransferRef struct {
	ID    int64
	Token string
}

type recipient struct {
	Email    string `db:"email"`
	Verified bool   `db:"verified"`
	Personal int64  `db:"personal_org_id"`
}

// openTransfer loads the recipient and a pending, unexpired transfer
// addressed to them, without locking it: callers lock what they change in
// the one order every agent change uses (the agent row, then its transfers)
// and then re-check with lockTransfer. By id, a transfer to someone else is
// not found; by token it is forbidden (the link was forwarded).
func (tx *Tx) openTransfer(ref TransferRef, action string) (model.AgentTransfer, recipient, error) {
	var me recipient
	var t model.AgentTransfer
	if err := tx.GetContext(tx.ctx, &me, `SELECT email, email_verified_at IS NOT NULL AS verified,
		COALESCE(personal_org_id, 0) AS personal_org_id FROM accounts WHERE id = $1`, tx.actor.AccountID); err != nil {
		return t, me, notFound(err, "account")
	}
	var err error
	if ref.Token != "" {
		err = tx.GetContext(tx.ctx, &t, transferSelect+` WHERE tr.token_hash = $1`, HashSecret(strings.TrimSpace(ref.Token)))
	} else {
		err = tx.GetContext(tx.ctx, &t, transferSelect+` WHERE tr.id = $1 AND tr.to_email = $2`, ref.ID, me.Email)
	}
	if err != nil {
		return t, me, notFound(err, "transfer")
	}
	if t.ToEmail != me.Email {
		return t, me, tx.Deny(t.FromOrgID, action, transferTarget(t),
			model.Forbidden("This transfer was sent to %s. Sign in with that address to answer it.", t.ToEmail))
	}
	if !me.Verified {
		return t, me, model.Forbidden("Verify your email address before answering a transfer.")
	}
	return t, me, tx.transferOpen(t)
}

// transferOpen refuses a transfer that is no longer pending or has expired.
func (tx *Tx) transferOpen(t model.AgentTransfer) error {
	if t.Status != model.TransferPending {
		return model.Conflict("This transfer was already %s.", t.Status)
	}
	if t.Expired(tx.Now()) {
		return model.Conflict("This transfer expired. Ask the sender to send it again.")
	}
	return nil
}

// lockTransfer row-locks transfer id and checks it is still open: a move,
// a delete, a cancel or another answer may have closed it meanwhile (a
// deleted agent takes its transfers with it: not found).
func (tx *Tx) lockTransfer(id int64) (model.AgentTransfer, error) {
	var t model.AgentTransfer
	if err := tx.GetContext(tx.ctx, &t, transferSelect+` WHERE tr.id = $1 FOR UPDATE OF tr`, id); err != nil {
		return t, notFound(err, "transfer")
	}
	return t, tx.transferOpen(t)
}

// AcceptAgentTransfer moves the agent into the recipient's personal
// workspace: they become its creator, its grants are dropped, and everyone who
// had access through the old org (the sender included) loses it.
func (s *Store) AcceptAgentTransfer(ctx context.Context, actor model.Actor, ref TransferRef) (model.Agent, error) {
	var a model.Agent
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		var personal int64
		if err := tx.GetContext(ctx, &personal, `SELECT COALESCE(personal_org_id, 0) FROM accounts WHERE id = $1`, actor.AccountID); err != nil {
			return notFound(err, "account")
		}
		org, err := tx.lockOrg(personal)
		if err != nil {
			return err
		}
		t, _, err := tx.openTransfer(ref, "agent.transferred")
		if err != nil {
			return err
		}
		// The agent row first, then the transfer: the order of moves,
		// deletes and cancels, which lock the agent and then touch its
		// transfers. The other order deadlocks against them.
		var cur int64
		if err := tx.GetContext(ctx, &cur, `SELECT org_id FROM agents WHERE id = $1 FOR UPDATE`, t.AgentID); err != nil {
			return notFound(err, "agent")
		}
		if t, err = tx.lockTransfer(t.ID); err != nil {
			return err
		}
		if cur != t.FromOrgID {
			return model.Conflict("The agent has moved since this transfer was sent. Ask the sender to send it again.")
		}
		// The offer stands only while its sender may still transfer the
		// agent: someone removed from the org, demoted or stripped of their
		// grant since sending cannot hand the org's agent out any more.
		if t.FromAccountID == nil {
			return model.Conflict("The sender's account is gone, so this transfer no longer stands.")
		}
		sender, err := agentFor(ctx, tx, *t.FromAccountID, t.AgentID, false)
		if err != nil {
			return err
		}
		if model.CanTransferAgent(sender.Permission) != nil {
			return model.Conflict("The sender can no longer transfer this agent, so this transfer no longer stands.")
		}
		if err := tx.checkAgentLimit(org, 1); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE agents SET org_id = $1, created_by = $2, updated_at = $3 WHERE id = $4`,
			personal, actor.AccountID, tx.Now(), t.AgentID); err != nil {
			return fmt.Errorf("move agent: %w", err)
		}
		if err := tx.dropGrants(t.AgentID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE agent_transfers SET status = 'accepted', accepted_by = $1, updated_at = $2
			WHERE id = $3`, actor.AccountID, tx.Now(), t.ID); err != nil {
			return fmt.Errorf("accept transfer: %w", err)
		}
		if a, err = agentFor(ctx, tx, actor.AccountID, t.AgentID, false); err != nil {
			return err
		}
		if err := tx.Record(t.FromOrgID, "agent.transferred", transferTarget(t)); err != nil {
			return err
		}
		return tx.Record(personal, "agent.transferred", transferTarget(t))
	})
	return a, err
}

// DeclineAgentTransfer refuses a transfer; the agent stays where it is.
func (s *Store) DeclineAgentTransfer(ctx context.Context, actor model.Actor, ref TransferRef) (model.AgentTransfer, error) {
	var out model.AgentTransfer
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		t, _, err := tx.openTransfer(ref, "agent.transfer_declined")
		if err != nil {
			return err
		}
		if t, err = tx.lockTransfer(t.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE agent_transfers SET status = 'declined', updated_at = $1 WHERE id = $2`,
			tx.Now(), t.ID); err != nil {
			return fmt.Errorf("decline transfer: %w", err)
		}
		t.Status = model.TransferDeclined
		out = t
		return tx.Record(t.FromOrgID, "agent.transfer_declined", transferTarget(t))
	})
	return out, err
}
