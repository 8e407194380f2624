"""The chat pipeline: inbound chain, router and built-ins, launch, outbound delivery, cards."""
