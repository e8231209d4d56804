{#
    One row: the moment the help-desk export describes, computed once per build (macros/support_as_of.sql says
    what it is). Every support model measured to it reads this row: computed in each of them, the latest
    ticket, comment and status change meant three de-duplicating sorts of the whole history per model.
#}
select {{ support_as_of_computed() }} as as_of_at
