// Package cwalarms reads CloudWatch alarm states for the deployment
// engine's verification (ecsops.Clients.AlarmsFiring). It is the only
// package that links the CloudWatch client: step-verify wires it
// (Service), local mode and tests build every client with NewFactory, and
// the other Lambdas do not carry it.
package cwalarms

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/ecsflow/ecsflow/internal/ecsops"
)

// Field is the ecsops.Clients field Service fills.
const Field = "Alarms"

// Service builds a Reader on a CloudWatch client of each target's
// configuration into ecsops.Clients.Alarms.
func Service() ecsops.Service {
	return ecsops.NewService(Field, func(cfg aws.Config, c *ecsops.Clients) {
		c.Alarms = &Reader{Client: cloudwatch.NewFromConfig(cfg)}
	})
}

// NewFactory is a factory building every client: ecsops.AllServices and
// the alarm reader (local mode, tests).
func NewFactory(base aws.Config, opts ...ecsops.Option) *ecsops.Factory {
	return ecsops.NewFactoryFor(base, append(ecsops.AllServices(), Service()), opts...)
}

// Client is the CloudWatch client of c's alarm reader, or nil when c has
// none (tests create and set alarms with it).
func Client(c *ecsops.Clients) *cloudwatch.Client {
	if r, ok := c.Alarms.(*Reader); ok {
		return r.Client
	}
	return nil
}

// Reader reads alarm states with CloudWatch DescribeAlarms.
type Reader struct {
	Client *cloudwatch.Client
}

var _ ecsops.AlarmReader = (*Reader)(nil)

// AlarmsFiring returns the named alarms (metric or composite) that are in
// ALARM, asking for at most 100 names a call. Names that match no alarm
// are an error wrapping ecsops.ErrUnknownAlarms.
func (r *Reader) AlarmsFiring(ctx context.Context, names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	seen := map[string]cwtypes.StateValue{}
	for start := 0; start < len(names); start += 100 {
		end := min(start+100, len(names))
		p := cloudwatch.NewDescribeAlarmsPaginator(r.Client, &cloudwatch.DescribeAlarmsInput{
			AlarmNames: names[start:end],
			AlarmTypes: []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm, cwtypes.AlarmTypeCompositeAlarm},
		})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("describe alarms: %w", err)
			}
			for _, a := range out.MetricAlarms {
				seen[aws.ToString(a.AlarmName)] = a.StateValue
			}
			for _, a := range out.CompositeAlarms {
				seen[aws.ToString(a.AlarmName)] = a.StateValue
			}
		}
	}
	var firing, missing []string
	for _, n := range names {
		st, ok := seen[n]
		switch {
		case !ok:
			missing = append(missing, n)
		case st == cwtypes.StateValueAlarm:
			firing = append(firing, n)
		}
	}
	if len(missing) > 0 {
		return firing, fmt.Errorf("%w: %s", ecsops.ErrUnknownAlarms, strings.Join(missing, ", "))
	}
	return firing, nil
}
