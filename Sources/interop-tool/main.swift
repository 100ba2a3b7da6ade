// interop-tool: a developer tool for Tests/Interop. It exposes our readers, writers and numeric
// conversions to the Python tests so the PyPI reference packages can check them. Not shipped.
InteropTool.main()
