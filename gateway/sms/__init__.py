"""SMS: the PDU codec (TS 23.040 / TS 23.038), pure and free of I/O.

The package's names are the codec's public ones, listed once in :data:`gateway.sms.pdu.__all__`.
"""

from gateway.sms.pdu import *  # noqa: F403  (the codec's names, listed once in pdu.__all__)
from gateway.sms.pdu import __all__ as __all__
