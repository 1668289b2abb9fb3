"""Residents' personal data under the RGPD: what is kept, for how long, and the rights of the person.

- models.py    the retention settings (CNIL-based defaults), the ledger of erasures (by pseudonymous
               keys, so that a restored backup can be erased again), the access trail of residents'
               records and the record of each retention run (counts only).
- retention.py who is due to be forgotten (set-based queries), the nightly run in short batches and
               its preview, the warning before a record is anonymised;
- retention_views.py  the admins' page "Données personnelles" (periods, preview, runs, run now).
"""
