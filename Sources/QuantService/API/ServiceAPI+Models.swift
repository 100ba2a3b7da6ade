import Foundation
import HTTPServer
import JSON
import ModelFormats
import QuantAPI
import QuantCore
import QuantStore

extension ServiceAPI {
    func addModels(_ router: inout Router) {
        let uploads = UploadReceiver(data: data, counters: pool.counters)
        router.add(.post, "/v1/models", bodyLimit: config.maxUploadBytes) { [self] request, body in
            let scope = try scope(request)
            let name = try Self.uploadName(request, default: "model")
            let model = try Self.run {
                try uploads.receive(request, body: body, name: name, scope: scope, maxBytes: config.maxUploadBytes)
            }
            return try Self.json(201, JSONViews.model(model), headers: [("Location", "/v1/models/\(model.id)")])
        }
        router.add(.get, "/v1/models") { [self] request, _ in
            let scope = try scope(request)
            let limit = try Self.limit(request, default: 100)
            let models = try Self.run { try scope.models(limit: limit) }
            return try Self.json(200, ModelList(models: models.map(JSONViews.model)))
        }
        router.add(.get, "/v1/models/{id}", inline: lookupsAreLocal) { [self] request, _ in
            let model = try Self.run { try scope(request).model(request.pathParameters["id"] ?? "") }
            return try Self.json(200, JSONViews.model(model))
        }
        router.add(.get, "/v1/models/{id}/tensors") { [self] request, _ in
            let model = try Self.run { try scope(request).model(request.pathParameters["id"] ?? "") }
            let source = try Self.run { try SourceModel(path: model.blobPath) }
            let tensors = source.tensors.map {
                TensorInfo(name: $0.name, dtype: $0.dtypeName, shape: $0.shape, bytes: Int64($0.byteRange.count))
            }
            return try Self.json(200, TensorList(modelId: model.id, tensors: tensors))
        }
        router.add(.delete, "/v1/models/{id}") { [self] request, _ in
            let deletion = try Self.run {
                try scope(request).deleteModel(request.pathParameters["id"] ?? "", removeBlob: BlobStore.remove)
            }
            let artifacts = ArtifactStore(data: data)
            deletion.jobIDs.forEach(artifacts.removeJob)
            return HTTPResponse(status: 204)
        }
    }
}
