"""The gateway core: receive pipeline, multipart reassembly, OTP rules (and the send side)."""

from gateway.pipeline.receive import ReceivePipeline

__all__ = ["ReceivePipeline"]
