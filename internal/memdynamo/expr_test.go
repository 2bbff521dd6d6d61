package memdynamo

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/smithy-go"
)

func TestParseAcceptsTheGrammar(t *testing.T) {
	cases := []struct {
		name string
		kind exprKind
		src  string
		// names and vals are the placeholders the expression uses.
		names, vals int
	}{
		{"comparison", kindCondition, "#a = :v", 1, 1},
		{"every comparator", kindCondition, "a = :v AND a <> :v AND a < :v AND a <= :v AND a > :v AND a >= :v", 0, 1},
		{"precedence and parentheses", kindCondition, "NOT (a = :v OR b = :w) AND c = :x", 0, 3},
		{"keywords in any case", kindCondition, "a between :lo and :hi or not attribute_exists(b)", 0, 2},
		{"in", kindCondition, "a IN (:a, :b, :c)", 0, 3},
		{"functions", kindCondition, "attribute_type(a, :t) AND begins_with(#b, :p) AND contains(c, :x) AND size(d) > :n", 1, 4},
		{"nested paths", kindCondition, "#doc.#k[3].x = :v", 2, 1},
		{"the store's claim condition", kindCondition, "attribute_not_exists(#pk) OR (attribute_not_exists(#done) AND #lease <= :now)", 3, 1},
		{"key condition", kindKey, "#pk = :pk AND begins_with(#sk, :pre)", 2, 2},
		{"set with arithmetic", kindUpdate, "SET #seq = if_not_exists(#seq, :zero) + :n, b = list_append(b, :l)", 1, 3},
		{"every clause", kindUpdate, "SET a = :a REMOVE b, c[2] ADD d :d DELETE e :e", 0, 3},
		{"clauses in any order", kindUpdate, "remove b set a = :a", 0, 1},
		{"projection", kindProjection, "#a, b.c, d[0]", 1, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := parse(c.kind, c.src)
			if err != nil {
				t.Fatalf("parse(%q) = %v", c.src, err)
			}
			if len(p.names) != c.names || len(p.vals) != c.vals {
				t.Errorf("placeholders = %v %v, want %d names and %d values", p.names, p.vals, c.names, c.vals)
			}
		})
	}
}

func TestParseRefusesWithAValidationError(t *testing.T) {
	cases := []struct {
		name string
		kind exprKind
		src  string
		want string
	}{
		{"empty", kindCondition, "  ", "can not be empty"},
		{"dangling operator", kindCondition, "a = ", "Syntax error"},
		{"unbalanced", kindCondition, "(a = :v", "Syntax error"},
		{"trailing tokens", kindCondition, "a = :v b", "Syntax error"},
		{"unknown function", kindCondition, "frob(a)", "Invalid function name; function: frob"},
		{"update function in a condition", kindCondition, "if_not_exists(a, :v) = :v", "not allowed in a condition expression"},
		{"size in an update", kindUpdate, "SET a = size(b)", "not allowed in an update expression"},
		{"clause twice", kindUpdate, "SET a = :a SET b = :b", "can only be used once"},
		{"no clause", kindUpdate, "a = :a", "Syntax error"},
		{"bad character", kindCondition, "a = :v;", "Invalid character"},
		{"grammar word as a name", kindCondition, "and = :v", "reserved keyword"},
		{"reserved word", kindCondition, "Status = :v", "reserved keyword; reserved keyword: Status"},
		{"nested reserved word", kindUpdate, "SET doc.name = :v", "reserved keyword; reserved keyword: name"},
		{"index without number", kindProjection, "a[x]", "Syntax error"},
		{"bare placeholder sign", kindCondition, "# = :v", "Syntax error"},
		{"attribute_exists of a value", kindCondition, "attribute_exists(:v)", "requires a document path"},
		{"ADD without value", kindUpdate, "ADD a b", "Syntax error"},
		{"longer than 4 KB", kindCondition, strings.Repeat("(", 5000) + "a = :v" + strings.Repeat(")", 5000), "exceeded the maximum allowed size"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parse(c.kind, c.src)
			var api smithy.APIError
			if !errors.As(err, &api) || api.ErrorCode() != "ValidationException" || !strings.Contains(api.ErrorMessage(), c.want) {
				t.Errorf("parse(%q) = %v, want a ValidationException containing %q", c.src, err, c.want)
			}
		})
	}
}

// FuzzParse: any text either parses or is a ValidationException; it never
// panics, and a parsed expression parses the same way again (cache safety).
func FuzzParse(f *testing.F) {
	for _, s := range []string{"#a = :v", "a BETWEEN :a AND :b", "SET a = b + :c REMOVE d[1]", "#a.b[2], c",
		"attribute_not_exists(#pk) OR (attribute_not_exists(#done) AND #lease <= :now)", "NOT NOT a IN (:a)", "(((", "a[99999999999]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		for _, kind := range []exprKind{kindCondition, kindKey, kindUpdate, kindProjection} {
			p, err := parse(kind, src)
			if err != nil {
				var api smithy.APIError
				if !errors.As(err, &api) || api.ErrorCode() != "ValidationException" {
					t.Fatalf("parse(%s, %q) = %v, want a ValidationException", kind, src, err)
				}
				continue
			}
			if p.cond == nil && p.update == nil && p.proj == nil {
				t.Fatalf("parse(%s, %q) returned nothing", kind, src)
			}
		}
	})
}
