"""The shared claim-timing core: JST calendar, windows, years, money and caps.

Standard library only, pure, fully typed. Conventions (binding for every
policy, see ``policies.md``): civil dates and times are JST (UTC+9, no DST);
instants must be timezone-aware (text is read by ``parse_instant``, the one
parser of instants); windows are half-open (start inclusive, end
exclusive); money is whole yen and percentages round down.
"""

from timing.caps import Cap, CapResult, CapUsage, CountCap, apply_caps
from timing.computation import Computation, compute_payout
from timing.instants import DateMeaning, InstantError, parse_instant
from timing.interval import Deadline, Window
from timing.jst import (
    JST,
    at_jst,
    end_of_jst_day,
    format_jst,
    jst_date,
    start_of_jst_day,
    to_jst,
)
from timing.money import (
    PercentLike,
    format_yen,
    minus_recovered,
    parse_percent,
    percentage_floor,
)
from timing.months import (
    add_calendar_months,
    calendar_months_period_last_day,
    cover_begins_calendar_months_after,
    last_day_of_month,
)
from timing.trace import Step
from timing.windows import (
    INSTANT_RESOLUTION,
    days_counted_from_next_day,
    lookback_from_midnight_days_before,
    until_end_of_next_jst_day,
    within_days_of,
)
from timing.years import (
    CALENDAR_YEAR,
    FISCAL_YEAR_APRIL,
    PeriodYear,
    YearAnchor,
    period_year_containing,
    year_containing,
    year_label,
)

__all__ = [
    "CALENDAR_YEAR",
    "FISCAL_YEAR_APRIL",
    "INSTANT_RESOLUTION",
    "JST",
    "Cap",
    "CapResult",
    "CapUsage",
    "Computation",
    "CountCap",
    "DateMeaning",
    "Deadline",
    "InstantError",
    "PercentLike",
    "PeriodYear",
    "Step",
    "Window",
    "YearAnchor",
    "add_calendar_months",
    "apply_caps",
    "at_jst",
    "calendar_months_period_last_day",
    "compute_payout",
    "cover_begins_calendar_months_after",
    "days_counted_from_next_day",
    "end_of_jst_day",
    "format_jst",
    "format_yen",
    "jst_date",
    "last_day_of_month",
    "lookback_from_midnight_days_before",
    "minus_recovered",
    "parse_instant",
    "parse_percent",
    "percentage_floor",
    "period_year_containing",
    "start_of_jst_day",
    "to_jst",
    "until_end_of_next_jst_day",
    "within_days_of",
    "year_containing",
    "year_label",
]
