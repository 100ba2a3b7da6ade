import QuantdCLI

Quantd.main()
