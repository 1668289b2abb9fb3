"""Computer rooms: open-access bookings and workshops."""
