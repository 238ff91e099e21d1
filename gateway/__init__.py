"""otp-gateway: an SMS one-time-code gateway for a USB GSM modem."""

__version__ = "0.1.0.dev0"
