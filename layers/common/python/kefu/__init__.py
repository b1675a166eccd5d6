"""kefu: the customer-service domain shared by every Lambda function (deployed as a layer)."""
