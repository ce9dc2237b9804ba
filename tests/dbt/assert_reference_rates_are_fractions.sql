-- The reference rates are fractions (0.62, not 62): every rate between 0 and 1.
select country_code, template_category, read_rate, click_rate
from {{ ref('reference_engagement_rates') }}
where read_rate not between 0 and 1
    or click_rate not between 0 and 1
