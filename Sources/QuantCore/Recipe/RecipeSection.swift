import JSON
import ModelFormats

/// A recipe section that names a dataset (`evaluation`, `awq`): an object of known fields with a
/// required `dataset_id`. Errors name the field and show the expected shape.
struct RecipeSection {
    let object: JSONObject
    let datasetID: String

    /// `name`: the section's field; `example`: its shape, shown when the value is not an object;
    /// `dataset`: what the dataset must be.
    init(_ value: JSONValue, name: String, fields: [String], example: String, dataset: String) throws {
        guard let object = value.objectValue else { throw RecipeError(name, "must be \(example), got \(value.serialized)") }
        for key in object.keys where !fields.contains(key) {
            throw RecipeError("\(name).\(key)", "is not an \(name) field (allowed: \(fields.joined(separator: ", ")))")
        }
        guard let id = object["dataset_id"]?.stringValue, !id.isEmpty else {
            throw RecipeError("\(name).dataset_id", "is required: \(dataset)")
        }
        self.object = object
        datasetID = id
    }
}
