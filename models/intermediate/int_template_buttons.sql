{#
  One row per button of the newest definition of every template: the
  template's own BUTTONS component (card_index null) and every CAROUSEL
  card's buttons (card_index = the card). A QUICK_REPLY button's button_id is
  the payload that comes back in the reply webhook; external_platform marks a
  response option that hands the conversation to an external platform.
#}
{%- set button = {
    "button_id": "VARCHAR",
    "type": "VARCHAR",
    "text": "VARCHAR",
    "url": "VARCHAR",
    "external_platform": "BOOLEAN",
} -%}
{%- set components_structure = [{
    "type": "VARCHAR",
    "buttons": [button],
    "cards": [{"card_index": "INTEGER", "buttons": [button]}],
}] -%}
-- The linter reads struct field access (component.buttons, card.card_index) as a
-- table-qualified column: not a mixed qualification (RF03), not a self-alias (AL09).
-- noqa: disable=RF03,AL09
with

templates as (
    select * from {{ ref('stg_raw__templates') }}
),

components as (
    select
        account_id,
        template_name,
        template_language,
        {{ unnest_list(json_typed('components', components_structure)) }} as component
    from templates
),

template_buttons as (
    select
        account_id,
        template_name,
        template_language,
        cast(null as integer) as card_index,
        {{ unnest_list("component.buttons") }} as button
    from components
    where upper(component.type) = 'BUTTONS'
),

carousel_cards as (
    select
        account_id,
        template_name,
        template_language,
        {{ unnest_list("component.cards") }} as card
    from components
    where upper(component.type) = 'CAROUSEL'
),

card_buttons as (
    select
        account_id,
        template_name,
        template_language,
        card.card_index as card_index,
        {{ unnest_list("card.buttons") }} as button
    from carousel_cards
),

all_buttons as (
    select * from template_buttons
    union all
    select * from card_buttons
),

final as (
    select
        account_id,
        template_name,
        template_language,
        button.button_id as button_id,
        upper(button.type) as button_type,
        button.text as button_text,
        button.url as url,
        card_index,
        coalesce(button.external_platform, false) as is_external_platform
    from all_buttons
)

select * from final
