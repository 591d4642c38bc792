import HTTP
import Model
import Training

extension TrainingStore.WriteError: HTTPResponseError {
    public var status: HTTPStatus {
        switch self {
        case .invalid(let error): error.status
        case .notPersisted: .serviceUnavailable
        case .versionConflict, .notAtVersion: .conflict
        }
    }

    public var code: String {
        switch self {
        case .invalid(let error): error.code
        case .notPersisted: "state_not_persisted"
        case .versionConflict, .notAtVersion: "version_conflict"
        }
    }

    public var message: String {
        switch self {
        case .invalid(let error):
            return error.message
        case .notPersisted(let reason):
            return "the write was undone because the state could not be saved: \(reason)"
        case .versionConflict(let base, let current, let maxStaleness):
            return base > current
                ? "version \(base) is ahead of the current version \(current)"
                : "version \(base) is \(current - base) step(s) behind the current version \(current); at most \(maxStaleness) accepted"
        case .notAtVersion(let expected, let current):
            return "if_version: expected the current version to be \(expected), it is \(current)"
        }
    }

    public var currentVersion: Int? {
        switch self {
        case .versionConflict(_, let current, _), .notAtVersion(_, let current): current
        default: nil
        }
    }
}
