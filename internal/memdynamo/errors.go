package memdynamo

import (
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// The errors are the SDK's own types, so callers' errors.As checks work
// the same in process and over the wire:
//   - *types.ConditionalCheckFailedException (Item set with
//     ReturnValuesOnConditionCheckFailure ALL_OLD),
//   - *types.TransactionCanceledException with one CancellationReason per
//     transaction item ("None" for the items that passed),
//   - *types.ResourceNotFoundException, *types.ResourceInUseException,
//   - ValidationException as a *smithy.GenericAPIError with Code
//     "ValidationException" (the SDK has no type for it either).

// validationf returns a ValidationException.
func validationf(format string, args ...any) error {
	return &smithy.GenericAPIError{Code: "ValidationException", Message: fmt.Sprintf(format, args...), Fault: smithy.FaultClient}
}

func conditionFailed(old item, ret types.ReturnValuesOnConditionCheckFailure) error {
	e := &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}
	if ret == types.ReturnValuesOnConditionCheckFailureAllOld && old != nil {
		e.Item = cloneItem(old)
	}
	return e
}

func tableNotFound(name string) error {
	return &types.ResourceNotFoundException{Message: aws.String("Cannot do operations on a non-existent table: " + name)}
}

func transactionCanceled(reasons []types.CancellationReason) error {
	codes := make([]string, len(reasons))
	for i, r := range reasons {
		codes[i] = aws.ToString(r.Code)
	}
	return &types.TransactionCanceledException{
		Message:             aws.String("Transaction cancelled, please refer cancellation reasons for specific reasons [" + strings.Join(codes, ", ") + "]"),
		CancellationReasons: reasons,
	}
}
