package server

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/waihu/waihu/server/auth"
)

// userID is the stored id of the user named name.
func (f *fixture) userID(t *testing.T, name string) int64 {
	t.Helper()
	u, err := f.st.UserByName(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// tokenIDs lists the ids of the user's tokens.
func (f *fixture) tokenIDs(t *testing.T, name string) []int64 {
	t.Helper()
	toks, err := f.st.Tokens(t.Context(), f.userID(t, name))
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, tk := range toks {
		ids = append(ids, tk.ID)
	}
	return ids
}

func TestMeShowsTheCallersOwnAccess(t *testing.T) {
	f := newFixture(t)
	f.role("nothing", []string{})
	f.user("empty", "nothing", nil)
	cases := []struct {
		token        string
		role         string
		allCampaigns bool
		campaigns    []int64
		can          auth.Permission
	}{
		{tokAdmin, auth.RoleAdmin, true, []int64{}, auth.PermUsersAdmin},
		{tokAgent, auth.RoleAgent, false, []int64{f.alpha}, auth.PermCallsWrite},
		{tokViewer, auth.RoleViewer, true, []int64{}, auth.PermKPIRead},
		{"empty", "nothing", true, []int64{}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.token, func(t *testing.T) {
			var me meView
			f.get("/api/v1/me", tc.token).must(t, 200).json(t, &me)
			if me.User != tc.token || me.Role != tc.role || me.AllCampaigns != tc.allCampaigns ||
				!slices.Equal(me.Campaigns, tc.campaigns) || me.TokenID == 0 || me.Permissions == nil {
				t.Fatalf("me %+v", me)
			}
			if tc.can != "" && !slices.Contains(me.Permissions, tc.can) {
				t.Fatalf("permissions %v lack %s", me.Permissions, tc.can)
			}
		})
	}
	f.get("/api/v1/me", "").must(t, 401)
}

func TestUserRoutes(t *testing.T) {
	f := newFixture(t)
	t.Run("list shows roles, campaigns and valid tokens", func(t *testing.T) {
		var list listBody[userView]
		f.get("/api/v1/users", tokAdmin).must(t, 200).json(t, &list)
		if len(list.Items) != 6 {
			t.Fatalf("%d users: %+v", len(list.Items), list.Items)
		}
		i := slices.IndexFunc(list.Items, func(u userView) bool { return u.Name == tokAgent })
		if a := list.Items[i]; a.Role != auth.RoleAgent || a.AllCampaigns || !slices.Equal(a.Campaigns, []int64{f.alpha}) || a.Tokens != 1 {
			t.Fatalf("agent %+v", a)
		}
		if len(f.audit.find("user.list")) != 1 {
			t.Error("list not audited")
		}
	})
	t.Run("create, get, then the name is taken", func(t *testing.T) {
		r := f.do("POST", "/api/v1/users", tokAdmin, "", fmt.Sprintf(`{"name":"ann","role":"agent","campaigns":[%d,%d]}`, f.beta, f.beta)).must(t, 201)
		var u userView
		r.json(t, &u)
		if u.Name != "ann" || u.Role != auth.RoleAgent || !slices.Equal(u.Campaigns, []int64{f.beta}) || u.Tokens != 0 {
			t.Fatalf("created %+v", u)
		}
		if r.header.Get("Location") != fmt.Sprintf("/api/v1/users/%d", u.ID) {
			t.Errorf("Location %q", r.header.Get("Location"))
		}
		var got userView
		f.get(fmt.Sprintf("/api/v1/users/%d", u.ID), tokAdmin).must(t, 200).json(t, &got)
		if got.ID != u.ID || got.Name != "ann" {
			t.Fatalf("get %+v", got)
		}
		if e := f.audit.find("user.create"); len(e) != 1 || e[0].Object != fmt.Sprintf("user:%d", u.ID) || e[0].User != tokAdmin {
			t.Errorf("audit %+v", e)
		}
		f.do("POST", "/api/v1/users", tokAdmin, "", `{"name":"ann","role":"viewer"}`).must(t, 409)
	})
	t.Run("disabling refuses the user's token, enabling accepts it again", func(t *testing.T) {
		path := fmt.Sprintf("/api/v1/users/%d", f.userID(t, tokViewer))
		var u userView
		f.do("PATCH", path, tokAdmin, "", `{"disabled":true}`).must(t, 200).json(t, &u)
		if !u.Disabled {
			t.Fatalf("patched %+v", u)
		}
		f.get("/api/v1/me", tokViewer).must(t, 401)
		f.do("PATCH", path, tokAdmin, "", `{"disabled":false,"role":"supervisor"}`).must(t, 200).json(t, &u)
		var me meView
		f.get("/api/v1/me", tokViewer).must(t, 200).json(t, &me)
		if me.Role != auth.RoleSupervisor {
			t.Fatalf("me after role change %+v", me)
		}
		if len(f.audit.find("user.update")) != 2 {
			t.Error("updates not audited")
		}
	})
	t.Run("assigning campaigns limits what the user sees", func(t *testing.T) {
		path := fmt.Sprintf("/api/v1/users/%d/campaigns", f.userID(t, tokAgent))
		var u userView
		f.do("PUT", path, tokAdmin, "", fmt.Sprintf(`{"campaigns":[%d,%d]}`, f.alpha, f.beta)).must(t, 200).json(t, &u)
		if !slices.Equal(u.Campaigns, []int64{f.alpha, f.beta}) {
			t.Fatalf("assigned %+v", u)
		}
		f.get(fmt.Sprintf("/api/v1/campaigns/%d", f.beta), tokAgent).must(t, 200)
		f.do("PUT", path, tokAdmin, "", `{"campaigns":[]}`).must(t, 200).json(t, &u)
		if len(u.Campaigns) != 0 || u.AllCampaigns {
			t.Fatalf("cleared agent %+v: an agent without campaigns sees none", u)
		}
		f.get(fmt.Sprintf("/api/v1/campaigns/%d", f.alpha), tokAgent).must(t, 404)
		if e := f.audit.find("user.assign"); len(e) != 2 {
			t.Errorf("audit %+v", e)
		}
	})
	t.Run("a role without users:admin reaches none of them", func(t *testing.T) {
		for _, path := range []string{"/api/v1/users", "/api/v1/roles", "/api/v1/tokens"} {
			f.get(path, tokSuper).must(t, 403)
		}
	})
	agent := fmt.Sprintf("/api/v1/users/%d", f.userID(t, tokAgent))
	runBadInput(t, f, []badInputCase{
		{"create with an unknown role", "POST", "/api/v1/users", "", "", `{"name":"bo","role":"wizard"}`, 400, "role"},
		{"create without a role", "POST", "/api/v1/users", "", "", `{"name":"bo"}`, 400, "role"},
		{"create with a bad name", "POST", "/api/v1/users", "", "", `{"name":"b o","role":"viewer"}`, 400, "name"},
		{"create a duplicate", "POST", "/api/v1/users", "", "", `{"name":"agent","role":"viewer"}`, 409, "name"},
		{"create with an unknown campaign", "POST", "/api/v1/users", "", "", `{"name":"bo","role":"agent","campaigns":[999]}`, 404, "campaigns[0]"},
		{"create with a campaign id of wrong type", "POST", "/api/v1/users", "", "", `{"name":"bo","role":"agent","campaigns":["a"]}`, 400, "campaigns"},
		{"create with an unknown field", "POST", "/api/v1/users", "", "", `{"name":"bo","role":"agent","admin":true}`, 400, "admin"},
		{"get an unknown user", "GET", "/api/v1/users/999", "", "", "", 404, "id"},
		{"get a user by name", "GET", "/api/v1/users/ann", "", "", "", 400, "id"},
		{"patch with nothing", "PATCH", agent, "", "", `{}`, 400, ""},
		{"patch to an unknown role", "PATCH", agent, "", "", `{"role":"wizard"}`, 400, "role"},
		{"patch an unknown user", "PATCH", "/api/v1/users/999", "", "", `{"disabled":true}`, 404, "id"},
		{"assign without campaigns", "PUT", agent + "/campaigns", "", "", `{}`, 400, "campaigns"},
		{"assign a bad campaign id", "PUT", agent + "/campaigns", "", "", `{"campaigns":[0]}`, 400, "campaigns[0]"},
	})
}

func TestRoleRoutes(t *testing.T) {
	f := newFixture(t)
	var roles rolesBody
	f.get("/api/v1/roles", tokAdmin).must(t, 200).json(t, &roles)
	var names []string
	for _, r := range roles.Items {
		names = append(names, r.Name)
	}
	if !slices.Equal(names, []string{"admin", "supervisor", "agent", "viewer", tokAnalyst, tokDesk}) || !roles.Items[0].Builtin || roles.Items[4].Builtin ||
		!slices.Equal(roles.Permissions, auth.AllPermissions()) {
		t.Fatalf("roles %v %+v", names, roles)
	}
	var qa roleView
	f.do("PUT", "/api/v1/roles/qa", tokAdmin, "", `{"permissions":["calls:read","recordings:read","calls:read"]}`).must(t, 200).json(t, &qa)
	if !slices.Equal(qa.Permissions, []string{"calls:read", "recordings:read"}) {
		t.Fatalf("qa %+v", qa)
	}
	f.do("POST", "/api/v1/users", tokAdmin, "", `{"name":"qa1","role":"qa"}`).must(t, 201)
	if e := f.audit.find("role.define"); len(e) != 1 || e[0].Object != "role:qa" {
		t.Errorf("audit %+v", e)
	}
	runBadInput(t, f, []badInputCase{
		{"an unknown permission", "PUT", "/api/v1/roles/qa", "", "", `{"permissions":["calls:read","calls:reed"]}`, 400, "permissions[1]"},
		{"no permissions", "PUT", "/api/v1/roles/qa", "", "", `{}`, 400, "permissions"},
		{"a built-in role", "PUT", "/api/v1/roles/agent", "", "", `{"permissions":["calls:read"]}`, 409, "name"},
		{"a bad name", "PUT", "/api/v1/roles/..x", "", "", `{"permissions":[]}`, 400, "name"},
	})
}

func TestTokenIsShownOnceThenUsableUntilRevoked(t *testing.T) {
	f := newFixture(t)
	r := f.do("POST", "/api/v1/tokens", tokAdmin, "", `{"user":"viewer","name":"wallboard","expires_in":"30d"}`).must(t, 201)
	var created createdToken
	r.json(t, &created)
	if !strings.HasPrefix(created.Token, auth.TokenPrefix) || created.User != tokViewer || created.Name != "wallboard" ||
		created.State != "valid" || created.ExpiresAt.Sub(created.CreatedAt).Round(time.Minute) != 30*24*time.Hour {
		t.Fatalf("created %+v", created)
	}
	if e := f.audit.find("token.create"); len(e) != 1 || strings.Contains(e[0].Detail, created.Token) || e[0].Object != fmt.Sprintf("token:%d", created.ID) {
		t.Fatalf("audit %+v", e)
	}
	f.tokens["wallboard"] = created.Token
	var me meView
	f.get("/api/v1/me", "wallboard").must(t, 200).json(t, &me)
	if me.User != tokViewer || me.TokenID != created.ID {
		t.Fatalf("me with the new token %+v", me)
	}

	lr := f.get("/api/v1/tokens?user=viewer", tokAdmin).must(t, 200)
	if strings.Contains(string(lr.body), created.Token) || strings.Contains(strings.ToLower(string(lr.body)), "hash") {
		t.Fatalf("the list shows the secret or its hash: %s", lr.body)
	}
	var list listBody[tokenView]
	lr.json(t, &list)
	i := slices.IndexFunc(list.Items, func(v tokenView) bool { return v.ID == created.ID })
	if len(list.Items) != 2 || i < 0 || list.Items[i].LastUsedAt.IsZero() || list.Items[i].ExpiresAt.IsZero() {
		t.Fatalf("viewer's tokens %+v", list.Items)
	}
	var all listBody[tokenView]
	f.get("/api/v1/tokens", tokAdmin).must(t, 200).json(t, &all)
	if len(all.Items) != 7 {
		t.Fatalf("%d tokens in all, want 7", len(all.Items))
	}

	f.do("DELETE", fmt.Sprintf("/api/v1/tokens/%d", created.ID), tokAdmin, "", "").must(t, 204)
	f.get("/api/v1/me", "wallboard").must(t, 401)
	f.get("/api/v1/me", tokViewer).must(t, 200)
	f.get("/api/v1/tokens?user=viewer", tokAdmin).must(t, 200).json(t, &list)
	if i := slices.IndexFunc(list.Items, func(v tokenView) bool { return v.ID == created.ID }); list.Items[i].State != "revoked" || list.Items[i].RevokedAt.IsZero() {
		t.Fatalf("revoked token listed as %+v", list.Items[i])
	}
	if len(f.audit.find("token.revoke")) != 1 {
		t.Error("revocation not audited")
	}
	// A token without expiry lives until revoked.
	var forever createdToken
	f.do("POST", "/api/v1/tokens", tokAdmin, "", `{"user":"agent"}`).must(t, 201).json(t, &forever)
	if forever.Token == "" || !forever.ExpiresAt.IsZero() {
		t.Fatalf("token without expires_in: %+v", forever)
	}

	f.do("PATCH", fmt.Sprintf("/api/v1/users/%d", f.userID(t, tokDesk)), tokAdmin, "", `{"disabled":true}`).must(t, 200)
	runBadInput(t, f, []badInputCase{
		{"a bad expiry", "POST", "/api/v1/tokens", "", "", `{"user":"viewer","expires_in":"soon"}`, 400, "expires_in"},
		{"a negative expiry", "POST", "/api/v1/tokens", "", "", `{"user":"viewer","expires_in":"-1h"}`, 400, "expires_in"},
		{"zero days", "POST", "/api/v1/tokens", "", "", `{"user":"viewer","expires_in":"0d"}`, 400, "expires_in"},
		{"no user", "POST", "/api/v1/tokens", "", "", `{"name":"x"}`, 400, "user"},
		{"an unknown user", "POST", "/api/v1/tokens", "", "", `{"user":"nobody"}`, 404, "user"},
		{"a disabled user", "POST", "/api/v1/tokens", "", "", `{"user":"desk"}`, 409, "user"},
		{"list for an unknown user", "GET", "/api/v1/tokens?user=nobody", "", "", "", 404, "user"},
		{"revoke an unknown token", "DELETE", "/api/v1/tokens/999", "", "", "", 404, "id"},
		{"revoke a token by name", "DELETE", "/api/v1/tokens/wallboard", "", "", "", 400, "id"},
	})
}

func TestAUserAdminCannotGrantMoreThanTheyHold(t *testing.T) {
	f := newFixture(t)
	f.role("useradmin", []string{"users:admin", "calls:read", "kpis:read"})
	f.user("ua", "useradmin", nil)
	f.user("ua-alpha", "useradmin", []int64{f.alpha})
	admin := fmt.Sprintf("/api/v1/users/%d", f.userID(t, tokAdmin))
	adminToken := fmt.Sprintf("/api/v1/tokens/%d", f.tokenIDs(t, tokAdmin)[0])
	self := fmt.Sprintf("/api/v1/users/%d", f.userID(t, "ua"))
	a := fmt.Sprintf(`[%d]`, f.alpha)
	b := fmt.Sprintf(`[%d]`, f.beta)

	f.do("PUT", "/api/v1/roles/caller", "ua", "", `{"permissions":["calls:read"]}`).must(t, 200)
	f.do("POST", "/api/v1/users", "ua", "", `{"name":"c1","role":"caller"}`).must(t, 201)
	f.do("POST", "/api/v1/users", "ua-alpha", "", `{"name":"c2","role":"caller","campaigns":`+a+`}`).must(t, 201)
	f.do("POST", "/api/v1/tokens", "ua", "", `{"user":"c1"}`).must(t, 201)
	runBadInput(t, f, []badInputCase{
		{"create an admin", "POST", "/api/v1/users", "ua", "", `{"name":"x1","role":"admin"}`, 403, "role"},
		{"create a viewer, who reads trunks", "POST", "/api/v1/users", "ua", "", `{"name":"x2","role":"viewer"}`, 403, "role"},
		{"define a role with audit:read", "PUT", "/api/v1/roles/boss", "ua", "", `{"permissions":["users:admin","audit:read"]}`, 403, "permissions"},
		{"redefine a stronger role", "PUT", "/api/v1/roles/analyst", "ua", "", `{"permissions":["calls:read"]}`, 403, "name"},
		{"promote oneself", "PATCH", self, "ua", "", `{"role":"admin"}`, 403, "role"},
		{"disable the admin", "PATCH", admin, "ua", "", `{"disabled":true}`, 403, "id"},
		{"assign the admin campaigns", "PUT", admin + "/campaigns", "ua", "", `{"campaigns":` + a + `}`, 403, "id"},
		{"issue a token for the admin", "POST", "/api/v1/tokens", "ua", "", `{"user":"admin"}`, 403, "user"},
		{"revoke the admin's token", "DELETE", adminToken, "ua", "", "", 403, "id"},
		{"a limited caller creates an unlimited user", "POST", "/api/v1/users", "ua-alpha", "", `{"name":"x3","role":"caller"}`, 403, "campaigns"},
		{"a limited caller assigns a campaign it does not see", "POST", "/api/v1/users", "ua-alpha", "", `{"name":"x4","role":"caller","campaigns":` + b + `}`, 404, "campaigns[0]"},
	})
	if u, err := f.st.UserByName(t.Context(), tokAdmin); err != nil || u.Disabled || len(u.Campaigns) != 0 {
		t.Fatalf("admin after refused changes %+v %v", u, err)
	}
	// Each refused escalation but the unseen campaign's 404 is audited.
	denied := f.audit.find("auth.denied")
	if len(denied) != 10 || denied[0].User != "ua" || !strings.Contains(denied[0].Detail, "audit:read") {
		t.Fatalf("%d auth.denied entries, want 10: %+v", len(denied), denied)
	}
}

func TestTheLastAdminCannotBeLockedOut(t *testing.T) {
	f := newFixture(t)
	self := fmt.Sprintf("/api/v1/users/%d", f.userID(t, tokAdmin))
	ownToken := fmt.Sprintf("/api/v1/tokens/%d", f.tokenIDs(t, tokAdmin)[0])
	lockouts := []badInputCase{
		{"disable oneself", "PATCH", self, "", "", `{"disabled":true}`, 409, "disabled"},
		{"demote oneself", "PATCH", self, "", "", `{"role":"viewer"}`, 409, "role"},
		{"revoke one's only token", "DELETE", ownToken, "", "", "", 409, "id"},
	}
	runBadInput(t, f, lockouts)

	// Another admin without a token cannot act through the API: still refused.
	f.do("POST", "/api/v1/users", tokAdmin, "", `{"name":"admin2","role":"admin"}`).must(t, 201)
	runBadInput(t, f, lockouts[:1])

	var tok createdToken
	f.do("POST", "/api/v1/tokens", tokAdmin, "", `{"user":"admin2"}`).must(t, 201).json(t, &tok)
	f.tokens["admin2"] = tok.Token
	f.do("PATCH", self, tokAdmin, "", `{"role":"viewer"}`).must(t, 200)
	f.get("/api/v1/users", tokAdmin).must(t, 403)
	f.do("DELETE", fmt.Sprintf("/api/v1/tokens/%d", tok.ID), "admin2", "", "").must(t, 409)

	// A custom role that holds users:admin counts, and may not lose it while
	// it is the last.
	f.role("boss", []string{"users:admin"})
	f.user("chief", "boss", nil)
	f.do("PATCH", fmt.Sprintf("/api/v1/users/%d", f.userID(t, "admin2")), "admin2", "", `{"disabled":true}`).must(t, 200)
	f.get("/api/v1/me", "admin2").must(t, 401)
	r := f.do("PUT", "/api/v1/roles/boss", "chief", "", `{"permissions":[]}`).must(t, 409)
	if e := r.errorBody(t); e.Field != "permissions" {
		t.Fatalf("field %q", e.Field)
	}
	var me meView
	f.get("/api/v1/me", "chief").must(t, 200).json(t, &me)
	if !slices.Contains(me.Permissions, auth.PermUsersAdmin) {
		t.Fatalf("chief lost users:admin: %+v", me)
	}
}

// accountsless is an Authenticator that manages no accounts.
type accountsless struct{ *auth.Accounts }

func TestAccountChangesWithoutAccountsAnswer503(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Auth = accountsless{c.Auth.(*auth.Accounts)} })
	f.do("POST", "/api/v1/users", tokAdmin, "", `{"name":"bo","role":"viewer"}`).must(t, 503)
	f.do("POST", "/api/v1/tokens", tokAdmin, "", `{"user":"viewer"}`).must(t, 503)
	f.get("/api/v1/users", tokAdmin).must(t, 200)
}
