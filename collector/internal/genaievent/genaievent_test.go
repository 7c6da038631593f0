package genaievent

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"
)

func TestName(t *testing.T) {
	for _, c := range []struct {
		name, field, attr string
		hasAttr           bool
		want              string
	}{
		{name: "field", field: "gen_ai.choice", want: "gen_ai.choice"},
		{name: "attribute", attr: "gen_ai.user.message", hasAttr: true, want: "gen_ai.user.message"},
		{name: "field wins", field: "gen_ai.choice", attr: "gen_ai.user.message", hasAttr: true, want: "gen_ai.choice"},
		{name: "empty field, attribute", field: "", attr: "gen_ai.tool.message", hasAttr: true, want: "gen_ai.tool.message"},
		{name: "neither", want: ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			lr := plog.NewLogRecord()
			lr.SetEventName(c.field)
			if c.hasAttr {
				lr.Attributes().PutStr("event.name", c.attr)
			}
			if got := Name(lr); got != c.want {
				t.Errorf("Name = %q, want %q", got, c.want)
			}
		})
	}
	// A non-string attribute is read as its string form, not dropped.
	lr := plog.NewLogRecord()
	lr.Attributes().PutInt("event.name", 7)
	if got := Name(lr); got != "7" {
		t.Errorf("Name with an int event.name = %q, want \"7\"", got)
	}
}
