package kpi

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/waihu/waihu/campaign"
)

// Name is the stable snake_case name of one reported figure; it is the JSON key
// of the figure in KPIs and the label a UI shows.
type Name string

// The reported figures, in the order of docs/kpis.md. Twelve KPIs give
// seventeen figures: transfers give a rate and a success rate, the list gives
// penetration and attempts per lead, latency gives two percentiles of two
// measures.
const (
	AnswerSeizureRatio        Name = "answer_seizure_ratio"
	HumanContactRate          Name = "human_contact_rate"
	NetworkEffectivenessRatio Name = "network_effectiveness_ratio"
	RightPartyContactRate     Name = "right_party_contact_rate"
	ConversionRate            Name = "conversion_rate"
	AverageCallDuration       Name = "average_call_duration"
	AverageHandleTime         Name = "average_handle_time"
	AbandonRate               Name = "abandon_rate"
	TransferRate              Name = "transfer_rate"
	TransferSuccessRate       Name = "transfer_success_rate"
	ListPenetration           Name = "list_penetration"
	AttemptsPerLead           Name = "attempts_per_lead"
	OptOutRate                Name = "opt_out_rate"
	FirstResponseLatencyP50   Name = "first_response_latency_p50"
	FirstResponseLatencyP95   Name = "first_response_latency_p95"
	TimeToGreetingP50         Name = "time_to_greeting_p50"
	TimeToGreetingP95         Name = "time_to_greeting_p95"
)

// Names lists every figure in report order.
var Names = [...]Name{
	AnswerSeizureRatio, HumanContactRate, NetworkEffectivenessRatio, RightPartyContactRate,
	ConversionRate, AverageCallDuration, AverageHandleTime, AbandonRate, TransferRate,
	TransferSuccessRate, ListPenetration, AttemptsPerLead, OptOutRate,
	FirstResponseLatencyP50, FirstResponseLatencyP95, TimeToGreetingP50, TimeToGreetingP95,
}

// Unit says how to read a Value.
type Unit string

// Units of the figures.
const (
	// UnitRatio is a fraction in [0, 1]; a UI multiplies by 100 for percent.
	UnitRatio Unit = "ratio"
	// UnitSeconds is a mean duration in seconds.
	UnitSeconds Unit = "s"
	// UnitMilliseconds is a latency percentile in milliseconds.
	UnitMilliseconds Unit = "ms"
	// UnitPerLead is attempts per contact.
	UnitPerLead Unit = "attempts/lead"
)

// Value is one figure. For ratios and means, Value = Numerator / Denominator
// (for means the numerator is the total, in the unit). For percentiles the
// Denominator is the sample size and the Numerator is 0. With a zero
// Denominator the figure is undefined and Value marshals as JSON null.
type Value struct {
	Value       float64 `json:"value"`
	Numerator   float64 `json:"numerator"`
	Denominator float64 `json:"denominator"`
	Unit        Unit    `json:"unit"`
}

// Defined reports whether the figure has data behind it.
func (v Value) Defined() bool { return v.Denominator > 0 }

// MarshalJSON writes value as null when the figure is undefined, so a UI shows
// "—" rather than a misleading 0.
func (v Value) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 96)
	b = append(b, `{"value":`...)
	if v.Defined() {
		b = strconv.AppendFloat(b, v.Value, 'g', -1, 64)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"numerator":`...)
	b = strconv.AppendFloat(b, v.Numerator, 'g', -1, 64)
	b = append(b, `,"denominator":`...)
	b = strconv.AppendFloat(b, v.Denominator, 'g', -1, 64)
	b = append(b, `,"unit":`...)
	b = strconv.AppendQuote(b, string(v.Unit))
	return append(b, '}'), nil
}

// KPIs holds every figure of one group; its JSON keys are the Names.
type KPIs struct {
	AnswerSeizureRatio        Value `json:"answer_seizure_ratio"`
	HumanContactRate          Value `json:"human_contact_rate"`
	NetworkEffectivenessRatio Value `json:"network_effectiveness_ratio"`
	RightPartyContactRate     Value `json:"right_party_contact_rate"`
	ConversionRate            Value `json:"conversion_rate"`
	AverageCallDuration       Value `json:"average_call_duration"`
	AverageHandleTime         Value `json:"average_handle_time"`
	AbandonRate               Value `json:"abandon_rate"`
	TransferRate              Value `json:"transfer_rate"`
	TransferSuccessRate       Value `json:"transfer_success_rate"`
	ListPenetration           Value `json:"list_penetration"`
	AttemptsPerLead           Value `json:"attempts_per_lead"`
	OptOutRate                Value `json:"opt_out_rate"`
	FirstResponseLatencyP50   Value `json:"first_response_latency_p50"`
	FirstResponseLatencyP95   Value `json:"first_response_latency_p95"`
	TimeToGreetingP50         Value `json:"time_to_greeting_p50"`
	TimeToGreetingP95         Value `json:"time_to_greeting_p95"`
}

// Get returns the figure called name; ok is false for an unknown name.
func (k *KPIs) Get(name Name) (v Value, ok bool) {
	if p := k.field(name); p != nil {
		return *p, true
	}
	return Value{}, false
}

func (k *KPIs) field(name Name) *Value {
	switch name {
	case AnswerSeizureRatio:
		return &k.AnswerSeizureRatio
	case HumanContactRate:
		return &k.HumanContactRate
	case NetworkEffectivenessRatio:
		return &k.NetworkEffectivenessRatio
	case RightPartyContactRate:
		return &k.RightPartyContactRate
	case ConversionRate:
		return &k.ConversionRate
	case AverageCallDuration:
		return &k.AverageCallDuration
	case AverageHandleTime:
		return &k.AverageHandleTime
	case AbandonRate:
		return &k.AbandonRate
	case TransferRate:
		return &k.TransferRate
	case TransferSuccessRate:
		return &k.TransferSuccessRate
	case ListPenetration:
		return &k.ListPenetration
	case AttemptsPerLead:
		return &k.AttemptsPerLead
	case OptOutRate:
		return &k.OptOutRate
	case FirstResponseLatencyP50:
		return &k.FirstResponseLatencyP50
	case FirstResponseLatencyP95:
		return &k.FirstResponseLatencyP95
	case TimeToGreetingP50:
		return &k.TimeToGreetingP50
	case TimeToGreetingP95:
		return &k.TimeToGreetingP95
	}
	return nil
}

// GroupBy says how a Report splits its records besides the total.
type GroupBy string

// Groupings. GroupNone reports the total only.
const (
	GroupNone     GroupBy = ""
	GroupCampaign GroupBy = "campaign"
	GroupVariant  GroupBy = "variant"
	GroupTrunk    GroupBy = "trunk"
	GroupCallerID GroupBy = "caller_id"
	GroupHour     GroupBy = "hour"
)

// ParseGroupBy reads a grouping name as the API receives it.
func ParseGroupBy(s string) (GroupBy, error) {
	switch g := GroupBy(s); g {
	case GroupNone, GroupCampaign, GroupVariant, GroupTrunk, GroupCallerID, GroupHour:
		return g, nil
	}
	return "", fmt.Errorf("group_by %q: want one of campaign, variant, trunk, caller_id, hour or empty", s)
}

// Rules are the campaign-specific parts of the definitions (docs/kpis.md).
// The zero value uses the documented defaults.
type Rules struct {
	// ConversionOutcomes are dialog outcomes that count as a conversion;
	// default ["interested"].
	ConversionOutcomes []string `json:"conversion_outcomes,omitempty"`
	// ConversionGrades are intent grades (CallRecord.IntentGrade) that count
	// as a conversion; default ["A"].
	ConversionGrades []string `json:"conversion_grades,omitempty"`
	// TransferNodes are the script's transfer node ids: a call that reached
	// one tried a transfer even when it failed. Without them only successful
	// transfers are seen, and the transfer success rate reads 100 %.
	TransferNodes []string `json:"transfer_nodes,omitempty"`
	// AbandonAfter is how long after answer a human may wait for the bot's
	// first audio before the call counts as abandoned; default 2 s (Ofcom's
	// and the US TSR's two-second rule for answered outbound calls).
	AbandonAfter time.Duration `json:"abandon_after,omitempty"`
	// WrapUp is the after-call work added to each answered call's handle
	// time (a human agent's notes after a transfer); default 0 for a bot.
	WrapUp time.Duration `json:"wrap_up,omitempty"`
}

// DefaultAbandonAfter is Rules.AbandonAfter's default.
const DefaultAbandonAfter = 2 * time.Second

func (r Rules) withDefaults() Rules {
	if r.ConversionOutcomes == nil {
		r.ConversionOutcomes = campaign.DefaultConversionOutcomes
	}
	if r.ConversionGrades == nil {
		r.ConversionGrades = campaign.DefaultConversionGrades
	}
	if r.AbandonAfter <= 0 {
		r.AbandonAfter = DefaultAbandonAfter
	}
	return r
}

// Query selects the records of a report: a campaign (0: every campaign),
// attempts with AttemptAt in [From, To) (a zero bound is open), and a grouping.
type Query struct {
	CampaignID int64
	From, To   time.Time
	GroupBy    GroupBy
	// Location is the zone of hour-of-day groups; nil means UTC.
	Location *time.Location
	Rules    Rules
}

// Last is a query over the span before now: the last 5 minutes, hour or day.
func Last(span time.Duration, now time.Time) Query {
	return Query{From: now.Add(-span), To: now}
}

// ListStats gives the number of contacts in each campaign's list, the
// denominator of list penetration.
type ListStats map[int64]int

// Report is the figures of a query: the total and, when grouped, one Group per
// key in ascending key order (hours "00" to "23").
type Report struct {
	CampaignID int64     `json:"campaign_id"`
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	GroupBy    GroupBy   `json:"group_by"`
	Total      Group     `json:"total"`
	Groups     []Group   `json:"groups"`
}

// Group is the figures of one group of records.
type Group struct {
	// Key is the campaign id, variant, trunk, caller ID or two-digit hour;
	// "" for the total (and for records without a variant, trunk or caller ID).
	Key string `json:"key"`
	// Calls counts the finished records in the group, seizures or not.
	Calls int  `json:"calls"`
	KPIs  KPIs `json:"kpis"`
}

// MarshalJSON keeps Groups an array even when empty.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	if r.Groups == nil {
		r.Groups = []Group{}
	}
	return json.Marshal(plain(r))
}
