"""The CRM companies export's header (HubSpot's company property names), for loader tests that write their own
files: one spelling of it, as the export writes it; HEADER_LINE with the line's end."""

HEADER = "hs_object_id,name,domain,createdate,lifecyclestage,hs_analytics_source,industry,numberofemployees,country"
HEADER_LINE = HEADER + "\n"
