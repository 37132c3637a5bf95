package analytics

import (
	"context"
	"fmt"
	"time"

	"github.com/waihu/waihu/store"
)

// SegmentsFromStore segments the contacts of one campaign by their fields and
// call history.
func SegmentsFromStore(ctx context.Context, st store.Store, campaignID int64, opt SegmentOptions) (SegmentReport, error) {
	if _, err := st.Campaign(ctx, campaignID); err != nil {
		return SegmentReport{}, fmt.Errorf("segments of campaign %d: %w", campaignID, err)
	}
	contacts, err := st.Contacts(ctx, campaignID, "")
	if err != nil {
		return SegmentReport{}, fmt.Errorf("segments of campaign %d: load contacts: %w", campaignID, err)
	}
	records, err := st.CallRecords(ctx, campaignID, 0)
	if err != nil {
		return SegmentReport{}, fmt.Errorf("segments of campaign %d: load call records: %w", campaignID, err)
	}
	rep, err := Segments(contacts, records, opt)
	if err != nil {
		return SegmentReport{}, fmt.Errorf("segments of campaign %d: %w", campaignID, err)
	}
	return rep, nil
}

// ForecastFromStore forecasts next week's answer rate per hour of day from one
// campaign's call records, or every campaign's when campaignID is 0.
func ForecastFromStore(ctx context.Context, st store.Store, campaignID int64, opt ForecastOptions) (Forecast, error) {
	if campaignID != 0 {
		if _, err := st.Campaign(ctx, campaignID); err != nil {
			return Forecast{}, fmt.Errorf("forecast of campaign %d: %w", campaignID, err)
		}
	}
	records, err := st.CallRecordsBetween(ctx, campaignID, opt.historyStart(), time.Time{})
	if err != nil {
		return Forecast{}, fmt.Errorf("forecast: %w", err)
	}
	f, err := ForecastAnswerRate(records, opt)
	if err != nil {
		return Forecast{}, fmt.Errorf("forecast of campaign %d: %w", campaignID, err)
	}
	return f, nil
}
