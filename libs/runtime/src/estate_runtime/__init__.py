"""Estate service runtime shared by every service; no service's domain lives here."""
