package model

import "time"

// TokenRequest is what a new API token asks for.
type TokenRequest struct {
	Scopes    []string
	OrgID     *int64
	PolicyID  *int64
	ExpiresAt *time.Time
}

// WithinCreator applies "a token never exceeds its creator" to a token made
// with a bearer token: its scopes are a subset of the creator's, it has the
// creator's org binding, spend policy and (at latest) expiry. What the request
// leaves out comes from the creator (no scopes: read and write where the
// creator has them, else the creator's scopes); anything beyond is forbidden.
// Unknown scopes pass through for the validator to name.
func WithinCreator(creator APIToken, req TokenRequest) (TokenRequest, error) {
	out := req
	if len(req.Scopes) == 0 {
		for _, sc := range []string{ScopeRead, ScopeWrite} {
			if creator.HasScope(sc) {
				out.Scopes = append(out.Scopes, sc)
			}
		}
		if len(out.Scopes) == 0 {
			out.Scopes = append([]string(nil), creator.Scopes...)
		}
	}
	for _, sc := range out.Scopes {
		if isScope(sc) && !creator.HasScope(sc) {
			return req, Forbidden("This token cannot create a token with the %s scope it lacks itself.", sc)
		}
	}
	if creator.OrgID != nil {
		if req.OrgID != nil && *req.OrgID != *creator.OrgID {
			return req, Forbidden("This token is bound to one organization: the tokens it creates are bound to the same one.")
		}
		org := *creator.OrgID
		out.OrgID = &org
	}
	if creator.PolicyID != nil {
		if req.PolicyID != nil && *req.PolicyID != *creator.PolicyID {
			return req, Forbidden("This token is under a spend policy: the tokens it creates are under the same one.")
		}
		p := *creator.PolicyID
		out.PolicyID = &p
	}
	if creator.ExpiresAt != nil {
		if req.ExpiresAt != nil && req.ExpiresAt.After(*creator.ExpiresAt) {
			return req, Forbidden("This token expires at %s: the tokens it creates cannot outlive it.", creator.ExpiresAt.UTC().Format(time.RFC3339))
		}
		if req.ExpiresAt == nil {
			e := *creator.ExpiresAt
			out.ExpiresAt = &e
		}
	}
	return out, nil
}

func isScope(s string) bool {
	for _, a := range AllScopes {
		if a == s {
			return true
		}
	}
	return false
}
