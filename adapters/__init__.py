"""Vendor adapters: Zendesk and Amazon Connect exports, as those vendors write them, turned into
contract v1 rows before staging, so quarantine, de-duplication, the store, validation and every
metric work on them unchanged (docs/vendors.md).

- `records`: the JSON documents and record streams the vendors write (gzipped or not);
- `layout`: which landing objects are which entity, and their export day;
- `zendesk`: ticket pages and ticket-event pages (with the users export for roles);
- `connect`: contact records (CTR) joined with their Contact Lens analysis.

An adapter yields one contract row per vendor record it maps. A record it cannot map becomes a
row marked `unmappable` with the vendor field that stopped it: staging quarantines it as
`unmappable_vendor_record`, so nothing is dropped silently.
"""
