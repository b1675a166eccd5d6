"""kefu's command-line tool for shop operators and developers (docs/customers.md "Import and
export"). Never imported by a Lambda function: its libraries (requests, rich) are dev
requirements only, not the layer's."""
