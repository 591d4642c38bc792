import Model
import Training

/// What every endpoint works with: the training state, the model's description, the limits
/// on one request, the metrics and the working memory for model computations.
final class APIContext: Sendable {
    let store: TrainingStore
    let network: NetworkConfiguration
    let limits: RequestLimits
    let metrics: ServerMetrics
    let scratch: ScratchPool

    init(store: TrainingStore, network: NetworkConfiguration, limits: RequestLimits, metrics: ServerMetrics, scratch: ScratchPool) {
        self.store = store
        self.network = network
        self.limits = limits
        self.metrics = metrics
        self.scratch = scratch
    }
}
