package db_test

import (
	"testing"

	"guildhall/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }
