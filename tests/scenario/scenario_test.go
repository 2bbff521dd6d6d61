package scenario

import (
	"strings"
	"sync"
	"testing"

	"github.com/ecsflow/ecsflow/internal/model"
)

func TestLogBufferKeepsTheFirstMiB(t *testing.T) {
	var l LogBuffer
	line := strings.Repeat("x", 1023) + "\n"
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 512 {
				if n, err := l.Write([]byte(line)); n != len(line) || err != nil {
					t.Errorf("Write = %d, %v, want %d, nil", n, err, len(line))
				}
			}
		}()
	}
	wg.Wait()
	if got, want := len(l.String()), 1<<20; got != want {
		t.Errorf("LogBuffer holds %d bytes after 2 MiB of 1 KiB lines, want %d", got, want)
	}
}

func TestLedgerKinds(t *testing.T) {
	ledger := []model.LedgerEntry{{Kind: model.LedgerStatus}, {Kind: model.LedgerStep}, {Kind: model.LedgerStep}}
	got := LedgerKinds(ledger)
	if got[model.LedgerStatus] != 1 || got[model.LedgerStep] != 2 || len(got) != 2 {
		t.Errorf("LedgerKinds = %v, want 1 %s and 2 %s", got, model.LedgerStatus, model.LedgerStep)
	}
}
