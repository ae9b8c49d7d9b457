package pgtest

import (
	"database/sql"
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

func TestServer(t *testing.T) {
	url := Shared(t).NewDatabase(t)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	if err := db.QueryRow("SELECT version()").Scan(&v); err != nil {
		t.Fatal(err)
	}
	t.Log(v)
}

func TestPGlite(t *testing.T) {
	db, err := sql.Open("pgx", PGlite(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE EXTENSION IF NOT EXISTS vector"); err != nil {
		t.Fatal(err)
	}
	var v, d string
	if err := db.QueryRow("SELECT version(), (SELECT extversion FROM pg_extension WHERE extname = 'vector')").Scan(&v, &d); err != nil {
		t.Fatal(err)
	}
	t.Log(v, "pgvector", d)
}
