import Histogram

/// hdrhistogram's type, named apart from Prometheus' `Histogram`.
typealias LatencyHistogram = Histogram<UInt64>
