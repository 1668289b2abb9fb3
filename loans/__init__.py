"""Equipment loans: devices, QR labels, lending and taking back."""
