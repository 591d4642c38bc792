import HTTP
import Model
import Training

extension TrainingStore.WriteError: HTTPResponseError {
    public var status: HTTPStatus {
        switch self {
        case .invalid(let error): error.status
        case .notPersisted: .serviceUnavailable
        case .versionConflict: .conflict
        }
    }

    public var code: String {
        switch self {
        case .invalid(let error): error.code
        case .notPersisted: "state_not_persisted"
        case .versionConflict: "version_conflict"
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
        }
    }

    public var currentVersion: Int? {
        if case .versionConflict(_, let current, _) = self { return current }
        return nil
    }
}
