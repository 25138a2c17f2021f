package views

import (
	"context"
	"io"
	"testing"

	"github.com/a-h/templ"
)

// BenchmarkMemberRows renders a page of 20 member rows (an owner's view: 2FA
// column, change, transfer and remove) hand-written and through templ.
func BenchmarkMemberRows(b *testing.B) {
	off := false
	rows := make([]MemberRowView, 20)
	for i := range rows {
		rows[i] = MemberRowView{UserID: int64(1000 + i), Name: "Member 1048", Email: "m001048@large.example.com", Role: "admin",
			RoleLabel: "Admin", Joined: "Nov 30, 2026", LastActive: "Never", CanChangeRole: true, CanRemove: true, CanTransfer: true, TwoFactor: &off}
	}
	for _, c := range []struct {
		name string
		row  func(MemberRowView) templ.Component
	}{{"hand", MemberRow}, {"templ", memberRowTempl}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, r := range rows {
					if err := c.row(r).Render(context.Background(), io.Discard); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
