"""Residents' personal data under the RGPD: what is kept, for how long, and the rights of the person.

- models.py    the retention settings (CNIL-based defaults), the ledger of erasures (by pseudonymous
               keys, so that a restored backup can be erased again), the access trail of residents'
               records and the record of each retention run (counts only).
- settings.py  the retention settings in force (saved, or the defaults).
- erasure.py   erasing a person (at the desk, from a booking link, by the retention run): what names
               them goes everywhere, the rows that count stay; the ledger and its replay after a restore.
- notice.py    the public page "Vos données" of each centre and its poster (information at collection).
- export.py    everything held about one resident (right of access and portability): the printable
               page and the JSON file read the same dict; what is held about one booking.
- trail.py     the access trail: a row per opening of a resident's record or export and per staff
               login; the admins' page of it (forms.py: its filters).
- retention.py who is due to be forgotten (set-based queries), the nightly run in short batches and
               its preview, the warning before a record is anonymised;
- retention_views.py  the admins' page "Données personnelles" (periods, preview, runs, run now).
"""
