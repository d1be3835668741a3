{#
  Pay frequency from the median gap (days) between payroll deposit dates in the window:
  weekly (<= 10), biweekly (<= 14.5: a fixed 14-day cycle), semi_monthly (<= 20: the 15th and
  the month end alternate 13-17 days), monthly (<= 40), irregular beyond; `none` without two
  deposits to measure.
#}
{% macro pay_frequency_sql(gap='median_pay_gap_days') %}
    case
        when {{ gap }} is null then 'none'
        when {{ gap }} <= 10 then 'weekly'
        when {{ gap }} <= 14.5 then 'biweekly'
        when {{ gap }} <= 20 then 'semi_monthly'
        when {{ gap }} <= 40 then 'monthly'
        else 'irregular'
    end
{% endmacro %}
