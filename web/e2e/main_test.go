package e2e

import (
	"testing"

	"guildhall/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }
