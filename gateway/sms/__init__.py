"""SMS: the PDU codec (TS 23.040 / TS 23.038), pure and free of I/O."""

from gateway.sms.pdu import (
    Concat,
    Deliver,
    EncodedPdu,
    Encoding,
    PduEncodeError,
    PduError,
    StatusReport,
    Submit,
    decode_incoming,
    decode_submit,
    encode_deliver,
    encode_status_report,
    encode_submit,
    normalise_number,
)

__all__ = [
    "Concat",
    "Deliver",
    "EncodedPdu",
    "Encoding",
    "PduEncodeError",
    "PduError",
    "StatusReport",
    "Submit",
    "decode_incoming",
    "decode_submit",
    "encode_deliver",
    "encode_status_report",
    "encode_submit",
    "normalise_number",
]
