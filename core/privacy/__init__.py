"""Residents' personal data under the RGPD: what is kept, for how long, and the rights of the person.

- models.py    the retention settings (CNIL-based defaults), the ledger of erasures (by pseudonymous
               keys, so that a restored backup can be erased again), the access trail of residents'
               records and the record of each retention run (counts only).
- export.py    everything held about one resident (right of access and portability): the printable
               page and the JSON file read the same dict; what is held about one booking.
- trail.py     the access trail: a row per opening of a resident's record or export and per staff
               login; the admins' page of it (forms.py: its filters).
"""
