"""CTA strategies loaded by vnpy's CtaEngine as they are (each module holds CtaTemplate subclasses)."""
