package ecsflow

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdadestinations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecsflow/ecsflow/internal/ecsevents"
	"github.com/ecsflow/ecsflow/statemachines"
)

// GSIs are the table's global secondary indexes; index <g> has the keys
// <g>PK and <g>SK (strings), all attributes projected.
var GSIs = []string{"GSI1", "GSI2"}

// DefaultEventBusName is the account's default EventBridge bus.
const DefaultEventBusName = "default"

// ScheduleTickRate is how often the Scheduler schedule ticks the trigger
// function; internal/trigger fires each scheduled Trigger whose cron
// expression names the tick's minute, so it must be one minute.
const ScheduleTickRate = "rate(1 minute)"

// DefaultTargetRoleName is the name of the role TargetAccountRole creates in
// each target account, and the one the steps assume.
const DefaultTargetRoleName = "ecsflow-target"

// JWTProps configures a JWT authorizer for the HTTP API.
type JWTProps struct {
	// Issuer is the token issuer URL.
	Issuer string
	// Audience lists the accepted "aud" values.
	Audience []string
}

// Props configures an ecsflow deployment.
type Props struct {
	// FunctionsDir holds one folder per Lambda (default "../functions",
	// relative to infra/).
	FunctionsDir string
	// AssetRoot holds the built binaries, <AssetRoot>/<name>/bootstrap
	// (default "../build").
	AssetRoot string
	// Definitions are the state machines (default statemachines.All()).
	Definitions []statemachines.Definition
	// Specs is the function table (default DefaultSpecs()).
	Specs map[string]FunctionSpec
	// NamePrefix prefixes the state machine names (default "ecsflow"); it
	// keeps two installations in one account and region apart.
	NamePrefix string
	// Clusters are the names of the ECS clusters ecsflow deploys to in this
	// account. At least one is required: ECS permissions are scoped to them.
	Clusters []string
	// Repositories are the ECR repository names whose pushes reach the
	// trigger function; empty means every repository in the account.
	Repositories []string
	// PassRoles are the names (IAM wildcards allowed) of the task and
	// execution roles the steps may pass to ECS tasks (default
	// "ecsflow-task-*", "ecsflow-exec-*", "ecsTaskExecutionRole").
	PassRoles []string
	// TargetAccounts are other accounts holding a TargetAccountRole; the
	// steps may assume that role there. Empty means single-account.
	TargetAccounts []string
	// TargetRoleName is the role name in the target accounts (default
	// DefaultTargetRoleName).
	TargetRoleName string
	// JWT, when set, makes a JWT authorizer the API's authorizer instead of
	// IAM. Every route has an authorizer either way.
	JWT *JWTProps
	// LogRetention applies to every log group (default one month).
	LogRetention awslogs.RetentionDays
	// SecretPrefix limits which Secrets Manager secrets (registry
	// credentials of artifact servers) functions may read: names starting
	// with it (default "ecsflow/").
	SecretPrefix string
	// CollectInterval is how often functions/collect-artifacts runs
	// (default 5 minutes).
	CollectInterval time.Duration
	// NotificationEmails subscribe to the notification topic (alarms and
	// deployment notices); each address must confirm the subscription.
	NotificationEmails []string
	// EventBusName is the EventBridge bus in this account and region that
	// deployment and pipeline status events ("ecsflow Deployment Status",
	// "ecsflow Pipeline Status") go to (default DefaultEventBusName, the
	// account's default bus). The bus must exist.
	EventBusName string
	// DisableNotifications turns the status events off (ECSFLOW_NOTIFY=off
	// on every function) and grants no events:PutEvents.
	DisableNotifications bool
	// DisableScheduledTriggers leaves out the EventBridge Scheduler schedule
	// that ticks the trigger function every minute; Triggers with a
	// schedule then never fire.
	DisableScheduledTriggers bool
}

// Ecsflow is the deployed system.
type Ecsflow struct {
	constructs.Construct
	Key           awskms.Key
	Table         awsdynamodb.Table
	Topic         awssns.Topic
	Functions     map[string]awslambda.Function
	StateMachines map[string]awsstepfunctions.StateMachine
	// Api is nil when there is no functions/api folder.
	Api       awsapigatewayv2.HttpApi
	Dashboard awscloudwatch.Dashboard
	// Queues are the dead-letter queues, by construct id.
	Queues map[string]awssqs.Queue
	// Schedule ticks the trigger function every minute (scheduled
	// Triggers); nil without a trigger function or with
	// Props.DisableScheduledTriggers.
	Schedule awsscheduler.CfnSchedule
}

// MissingFunctionSpecError reports a functions/<name> folder with no row in
// the function table.
type MissingFunctionSpecError struct{ Name string }

func (e *MissingFunctionSpecError) Error() string {
	return fmt.Sprintf("ecsflow: functions/%s has no entry in the function table (infra/ecsflow/specs.go DefaultSpecs or Props.Specs)", e.Name)
}

// MissingBootstrapError reports a function whose binary was not built.
type MissingBootstrapError struct{ Name, Path string }

func (e *MissingBootstrapError) Error() string {
	return fmt.Sprintf("ecsflow: %s is missing: build functions/%s first (make build)", e.Path, e.Name)
}

// MissingSubstitutionError reports a ${Placeholder} that nothing fills.
type MissingSubstitutionError struct {
	StateMachine string
	Placeholder  string
	Hint         string
}

func (e *MissingSubstitutionError) Error() string {
	msg := fmt.Sprintf("ecsflow: state machine %q: no substitution for ${%s}", e.StateMachine, e.Placeholder)
	if e.Hint != "" {
		msg += ": " + e.Hint
	}
	return msg
}

// ErrNoClusters is returned when Props.Clusters is empty.
var ErrNoClusters = errors.New("ecsflow: Props.Clusters is empty: name at least one ECS cluster")

// InvalidPropError reports a Props field whose value AWS would reject or
// that would widen a permission (a wildcard in a cluster name, say).
type InvalidPropError struct {
	Field, Value, Want string
}

func (e *InvalidPropError) Error() string {
	return fmt.Sprintf("ecsflow: %s %q: want %s", e.Field, e.Value, e.Want)
}

var (
	clusterRE    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
	prefixRE     = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)
	repositoryRE = regexp.MustCompile(`^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$`)
	roleRE       = regexp.MustCompile(`^[A-Za-z0-9+=,.@_*-]{1,64}$`)
	secretRE     = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,256}$`)
	eventBusRE   = regexp.MustCompile(`^[A-Za-z0-9._/-]{1,256}$`)
)

// validate checks the props that end up in names, ARNs and patterns.
func (p *Props) validate() error {
	if len(p.Clusters) == 0 {
		return ErrNoClusters
	}
	for _, c := range p.Clusters {
		if !clusterRE.MatchString(c) {
			return &InvalidPropError{"Clusters", c, "an ECS cluster name (letters, digits, - and _)"}
		}
	}
	for _, a := range p.TargetAccounts {
		if !accountRE.MatchString(a) {
			return &InvalidPropError{"TargetAccounts", a, "a 12-digit account id"}
		}
	}
	for _, r := range p.Repositories {
		if !repositoryRE.MatchString(r) {
			return &InvalidPropError{"Repositories", r, "an ECR repository name"}
		}
	}
	for _, r := range p.PassRoles {
		if !roleRE.MatchString(r) || r == "*" {
			return &InvalidPropError{"PassRoles", r, "an IAM role name, wildcards allowed but not \"*\" alone"}
		}
	}
	if !prefixRE.MatchString(p.NamePrefix) {
		return &InvalidPropError{"NamePrefix", p.NamePrefix, "1-40 letters, digits, - or _"}
	}
	if !roleRE.MatchString(p.TargetRoleName) || strings.Contains(p.TargetRoleName, "*") {
		return &InvalidPropError{"TargetRoleName", p.TargetRoleName, "an IAM role name"}
	}
	if !eventBusRE.MatchString(p.EventBusName) {
		return &InvalidPropError{"EventBusName", p.EventBusName, "an EventBridge bus name (letters, digits, . - _ /), not an ARN"}
	}
	if !secretRE.MatchString(p.SecretPrefix) {
		return &InvalidPropError{"SecretPrefix", p.SecretPrefix, "a Secrets Manager name prefix"}
	}
	for _, m := range p.NotificationEmails {
		if at := strings.Index(m, "@"); at < 1 || at == len(m)-1 || strings.ContainsAny(m, " ,;") {
			return &InvalidPropError{"NotificationEmails", m, "an email address"}
		}
	}
	if p.JWT != nil && (!strings.HasPrefix(p.JWT.Issuer, "https://") || len(p.JWT.Audience) == 0) {
		return &InvalidPropError{"JWT", p.JWT.Issuer, "an https:// issuer and at least one audience"}
	}
	return nil
}

func (p *Props) defaults() {
	if p.FunctionsDir == "" {
		p.FunctionsDir = filepath.Join("..", "functions")
	}
	if p.AssetRoot == "" {
		p.AssetRoot = filepath.Join("..", "build")
	}
	if p.Definitions == nil {
		p.Definitions = statemachines.All()
	}
	if p.Specs == nil {
		p.Specs = DefaultSpecs()
	}
	if p.NamePrefix == "" {
		p.NamePrefix = "ecsflow"
	}
	if len(p.PassRoles) == 0 {
		p.PassRoles = []string{"ecsflow-task-*", "ecsflow-exec-*", "ecsTaskExecutionRole"}
	}
	if p.TargetRoleName == "" {
		p.TargetRoleName = DefaultTargetRoleName
	}
	if p.SecretPrefix == "" {
		p.SecretPrefix = "ecsflow/"
	}
	if p.CollectInterval <= 0 {
		p.CollectInterval = 5 * time.Minute
	}
	if p.EventBusName == "" {
		p.EventBusName = DefaultEventBusName
	}
	if p.LogRetention == "" {
		p.LogRetention = awslogs.RetentionDays_ONE_MONTH
	}
}

// FunctionFolders lists the function folders in dir, sorted.
func FunctionFolders(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("ecsflow: read functions dir: %w", err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

type builder struct {
	scope  constructs.Construct
	props  Props
	arns   *arns
	e      *Ecsflow
	alarms []awscloudwatch.Alarm
}

// New builds ecsflow under scope. It fails, without a partial result, when a
// function folder has no table row or no built bootstrap, when an action has
// no scope, or when a state machine placeholder has no substitution.
func New(scope constructs.Construct, id string, props Props) (*Ecsflow, error) {
	props.defaults()
	if err := props.validate(); err != nil {
		return nil, err
	}
	names, err := FunctionFolders(props.FunctionsDir)
	if err != nil {
		return nil, err
	}
	// Check everything that can fail before creating any construct.
	for _, n := range names {
		spec, ok := props.Specs[n]
		if !ok {
			return nil, &MissingFunctionSpecError{Name: n}
		}
		for _, a := range spec.Actions {
			if _, ok := actionScopes[a]; !ok {
				return nil, &UnknownActionError{Function: n, Action: a}
			}
		}
		bin := filepath.Join(props.AssetRoot, n, "bootstrap")
		if st, err := os.Stat(bin); err != nil || !st.Mode().IsRegular() {
			return nil, &MissingBootstrapError{Name: n, Path: bin}
		}
	}
	have := map[string]bool{}
	for _, n := range names {
		have[n] = true
	}
	smNames := map[string]bool{}
	for _, d := range props.Definitions {
		smNames[d.Name] = true
	}
	for _, d := range props.Definitions {
		for _, ph := range d.Placeholders {
			if err := checkPlaceholder(d.Name, ph, have, smNames, props.Specs); err != nil {
				return nil, err
			}
		}
	}

	c := constructs.NewConstruct(scope, jsii.String(id))
	b := &builder{scope: c, props: props, e: &Ecsflow{
		Construct:     c,
		Functions:     map[string]awslambda.Function{},
		StateMachines: map[string]awsstepfunctions.StateMachine{},
		Queues:        map[string]awssqs.Queue{},
	}}
	b.storage()
	b.arns = &arns{
		stack:          awscdk.Stack_Of(c),
		tableArn:       *b.e.Table.TableArn(),
		topicArn:       *b.e.Topic.TopicArn(),
		clusters:       props.Clusters,
		passRoles:      props.PassRoles,
		targetAccounts: props.TargetAccounts,
		targetRoleName: props.TargetRoleName,
		repositories:   props.Repositories,
		secretPrefix:   props.SecretPrefix,
		eventBus:       props.EventBusName,
	}
	for _, d := range props.Definitions {
		b.arns.stateMachines = append(b.arns.stateMachines, b.smName(d.Name))
		if d.Name == PipelineDefinition {
			b.arns.pipelineMachine = b.smName(d.Name)
		}
	}
	for _, n := range names {
		if err := b.function(props.Specs[n]); err != nil {
			return nil, err
		}
	}
	for _, d := range props.Definitions {
		if err := b.stateMachine(d); err != nil {
			return nil, err
		}
	}
	b.api()
	if err := b.rules(); err != nil {
		return nil, err
	}
	b.schedule()
	b.notices()
	b.dashboard()
	b.suppress()
	return b.e, nil
}

// checkPlaceholder fails when no substitution will exist for ph.
func checkPlaceholder(sm, ph string, functions, machines map[string]bool, specs map[string]FunctionSpec) error {
	switch ph {
	case PlaceholderTableName, PlaceholderTableArn, PlaceholderTopicArn:
		return nil
	}
	for n := range machines {
		if StateMachineArnPlaceholder(n) == ph {
			return nil
		}
	}
	for n := range functions {
		if FunctionArnPlaceholder(n) == ph {
			return nil
		}
	}
	hint := "name it after a function (${StepPrepareArn} is functions/step-prepare), a state machine (${RollingStateMachineArn}), or use TableName, TableArn, TopicArn"
	for n := range specs {
		if FunctionArnPlaceholder(n) == ph {
			hint = fmt.Sprintf("it stands for functions/%s, which does not exist", n)
		}
	}
	return &MissingSubstitutionError{StateMachine: sm, Placeholder: ph, Hint: hint}
}

func (b *builder) smName(def string) string { return b.props.NamePrefix + "-" + def }

func (b *builder) logGroup(id string, name *string) awslogs.LogGroup {
	return awslogs.NewLogGroup(b.scope, jsii.String(id), &awslogs.LogGroupProps{
		LogGroupName:  name,
		Retention:     b.props.LogRetention,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
}

// storage creates the key, the table and the topic.
func (b *builder) storage() {
	b.e.Key = awskms.NewKey(b.scope, jsii.String("Key"), &awskms.KeyProps{
		Description:       jsii.String("ecsflow: encrypts the table and the notification topic"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	// CloudWatch alarms publish to the encrypted topic.
	b.e.Key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowCloudWatchAlarmsToUseTheKey"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey"),
		Resources:  jsii.Strings("*"),
	}), nil)
	b.e.Table = awsdynamodb.NewTable(b.scope, jsii.String("Table"), &awsdynamodb.TableProps{
		PartitionKey: &awsdynamodb.Attribute{Name: jsii.String("PK"), Type: awsdynamodb.AttributeType_STRING},
		SortKey:      &awsdynamodb.Attribute{Name: jsii.String("SK"), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:  awsdynamodb.BillingMode_PAY_PER_REQUEST,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		Encryption:          awsdynamodb.TableEncryption_CUSTOMER_MANAGED,
		EncryptionKey:       b.e.Key,
		TimeToLiveAttribute: jsii.String("ttl"),
		RemovalPolicy:       awscdk.RemovalPolicy_RETAIN,
	})
	for _, g := range GSIs {
		b.e.Table.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
			IndexName:      jsii.String(g),
			PartitionKey:   &awsdynamodb.Attribute{Name: jsii.String(g + "PK"), Type: awsdynamodb.AttributeType_STRING},
			SortKey:        &awsdynamodb.Attribute{Name: jsii.String(g + "SK"), Type: awsdynamodb.AttributeType_STRING},
			ProjectionType: awsdynamodb.ProjectionType_ALL,
		})
	}
	b.e.Topic = awssns.NewTopic(b.scope, jsii.String("Topic"), &awssns.TopicProps{
		DisplayName: jsii.String("ecsflow notifications"),
		MasterKey:   b.e.Key,
		EnforceSSL:  jsii.Bool(true),
	})
	for _, m := range b.props.NotificationEmails {
		b.e.Topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(m), nil))
	}
}

// queue creates a dead-letter queue with a depth alarm.
func (b *builder) queue(id, what string) awssqs.Queue {
	q := awssqs.NewQueue(b.scope, jsii.String(id), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	b.e.Queues[id] = q
	b.alarm(id+"Depth", "dead-lettered "+what, q.MetricApproximateNumberOfMessagesVisible(nil))
	return q
}

func (b *builder) alarm(id, what string, m awscloudwatch.IMetric) {
	a := awscloudwatch.NewAlarm(b.scope, jsii.String(id+"Alarm"), &awscloudwatch.AlarmProps{
		AlarmDescription:   jsii.String("ecsflow: " + what),
		Metric:             m,
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	a.AddAlarmAction(awscloudwatchactions.NewSnsAction(b.e.Topic))
	b.alarms = append(b.alarms, a)
}

// function creates one Lambda with its own role, log group and alarm.
func (b *builder) function(spec FunctionSpec) error {
	id := pascal(spec.Name)
	actions := b.actionsOf(spec)
	stmts, err := b.arns.statements(spec.Name, actions)
	if err != nil {
		return err
	}
	logs := b.logGroup(id+"Logs", nil)
	role := awsiam.NewRole(b.scope, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("ecsflow " + spec.Name + ": only the actions its code calls"),
	})
	logs.GrantWrite(role)
	for _, s := range stmts {
		role.AddToPolicy(s)
	}
	if b.usesKey(actions) {
		role.AddToPolicy(b.keyStatement())
	}
	env := map[string]*string{
		EnvFunction:              jsii.String(spec.Name),
		EnvTableName:             b.e.Table.TableName(),
		EnvTopicArn:              b.e.Topic.TopicArn(),
		EnvStateMachineArnPrefix: jsii.String(b.arns.stateMachineArn(b.props.NamePrefix + "-")),
		EnvTargetRoleName:        jsii.String(b.props.TargetRoleName),
		// Every step, pipeline step and the API read these (status
		// notifications); only the functions that publish may put events.
		EnvEventBusName: jsii.String(b.props.EventBusName),
	}
	if b.props.DisableNotifications {
		env[EnvNotify] = jsii.String("off")
	}
	if startsExecutions(spec.Actions) {
		for _, d := range b.props.Definitions {
			env[EnvStateMachineArn+StrategyKey(d.Name)] = jsii.String(b.arns.stateMachineArn(b.smName(d.Name)))
		}
	}
	for k, v := range spec.Env {
		env[k] = jsii.String(v)
	}
	fp := &awslambda.FunctionProps{
		Description:           jsii.String(spec.Description),
		Runtime:               awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:          awslambda.Architecture_ARM_64(),
		Handler:               jsii.String("bootstrap"),
		Code:                  awslambda.Code_FromAsset(jsii.String(filepath.Join(b.props.AssetRoot, spec.Name)), nil),
		MemorySize:            jsii.Number(float64(spec.MemoryMB)),
		Timeout:               awscdk.Duration_Seconds(jsii.Number(spec.Timeout.Seconds())),
		Role:                  role,
		LogGroup:              logs,
		LoggingFormat:         awslambda.LoggingFormat_JSON,
		ApplicationLogLevelV2: awslambda.ApplicationLogLevel_INFO,
		SystemLogLevelV2:      awslambda.SystemLogLevel_INFO,
		Tracing:               awslambda.Tracing_ACTIVE,
		Environment:           &env,
	}
	if spec.Async {
		q := b.queue(id+"FailedInvocations", "asynchronous invocations of "+spec.Name)
		fp.OnFailure = awslambdadestinations.NewSqsDestination(q)
		fp.RetryAttempts = jsii.Number(2)
		fp.MaxEventAge = awscdk.Duration_Hours(jsii.Number(1))
	}
	fn := awslambda.NewFunction(b.scope, jsii.String(id), fp)
	awscdk.Tags_Of(fn).Add(jsii.String("ecsflow:function"), jsii.String(spec.Name), nil)
	b.e.Functions[spec.Name] = fn
	b.alarm(id+"Errors", "errors in "+spec.Name, fn.MetricErrors(&awscloudwatch.MetricOptions{
		Period: awscdk.Duration_Minutes(jsii.Number(5)),
	}))
	return nil
}

// actionsOf is the function's actions as granted: without events:PutEvents
// when notifications are off.
func (b *builder) actionsOf(spec FunctionSpec) []string {
	if !b.props.DisableNotifications {
		return spec.Actions
	}
	out := make([]string, 0, len(spec.Actions))
	for _, a := range spec.Actions {
		if a != "events:PutEvents" {
			out = append(out, a)
		}
	}
	return out
}

func startsExecutions(actions []string) bool {
	for _, a := range actions {
		if a == "states:StartExecution" {
			return true
		}
	}
	return false
}

// keyStatement lets a principal use the table and topic key.
func (b *builder) keyStatement() awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("TableAndTopicKey"),
		Actions:   jsii.Strings("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"),
		Resources: jsii.Strings(*b.e.Key.KeyArn()),
	})
}

func (b *builder) usesKey(actions []string) bool {
	for _, a := range actions {
		if s := actionScopes[a]; s == scopeTable || s == scopeTopic {
			return true
		}
	}
	return false
}

// substitutions returns the DefinitionSubstitutions of one definition.
func (b *builder) substitutions(d statemachines.Definition) map[string]*string {
	out := map[string]*string{}
	for _, ph := range d.Placeholders {
		switch ph {
		case PlaceholderTableName:
			out[ph] = b.e.Table.TableName()
			continue
		case PlaceholderTableArn:
			out[ph] = b.e.Table.TableArn()
			continue
		case PlaceholderTopicArn:
			out[ph] = b.e.Topic.TopicArn()
			continue
		}
		for n, fn := range b.e.Functions {
			if FunctionArnPlaceholder(n) == ph {
				out[ph] = fn.FunctionArn()
			}
		}
		for _, other := range b.props.Definitions {
			if StateMachineArnPlaceholder(other.Name) == ph {
				out[ph] = jsii.String(b.arns.stateMachineArn(b.smName(other.Name)))
			}
		}
	}
	return out
}

// stateMachine creates one state machine from its ASL, with the permissions
// its definition needs: invoke for every function it names, nested
// executions when it starts other state machines, the table and topic when
// it calls them directly.
func (b *builder) stateMachine(d statemachines.Definition) error {
	id := pascal(d.Name) + "StateMachine"
	name := b.smName(d.Name)
	logs := b.logGroup(id+"Logs", jsii.String("/aws/vendedlogs/states/"+name))
	subs := b.substitutions(d)
	sm := awsstepfunctions.NewStateMachine(b.scope, jsii.String(id), &awsstepfunctions.StateMachineProps{
		StateMachineName:        jsii.String(name),
		DefinitionBody:          awsstepfunctions.DefinitionBody_FromString(jsii.String(d.Body)),
		DefinitionSubstitutions: &subs,
		Logs: &awsstepfunctions.LogOptions{
			Destination:          logs,
			Level:                awsstepfunctions.LogLevel_ALL,
			IncludeExecutionData: jsii.Bool(true),
		},
		TracingEnabled: jsii.Bool(true),
	})
	names := make([]string, 0, len(b.e.Functions))
	for n := range b.e.Functions {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, ok := subs[FunctionArnPlaceholder(n)]; ok {
			b.e.Functions[n].GrantInvoke(sm)
		}
	}
	if strings.Contains(d.Body, "arn:aws:states:::states:startExecution") {
		var children, executions []string
		for _, other := range b.props.Definitions {
			if _, ok := subs[StateMachineArnPlaceholder(other.Name)]; ok {
				children = append(children, b.arns.stateMachineArn(b.smName(other.Name)))
				executions = append(executions, b.arns.format("states", "execution", b.smName(other.Name)+":*", awscdk.ArnFormat_COLON_RESOURCE_NAME))
			}
		}
		if len(children) > 0 {
			sm.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid: jsii.String("StartChildWorkflows"), Actions: jsii.Strings("states:StartExecution"), Resources: jsii.Strings(children...),
			}))
			sm.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid: jsii.String("FollowChildWorkflows"), Actions: jsii.Strings("states:DescribeExecution", "states:StopExecution"), Resources: jsii.Strings(executions...),
			}))
			sm.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("SyncExecutionRule"),
				Actions:   jsii.Strings("events:PutTargets", "events:PutRule", "events:DescribeRule"),
				Resources: jsii.Strings(b.arns.format("events", "rule", "StepFunctionsGetEventsForStepFunctionsExecutionRule", awscdk.ArnFormat_SLASH_RESOURCE_NAME)),
			}))
		}
	}
	// Service integrations named in the definition, with the same scoped
	// statements the functions get.
	var direct []string
	if strings.Contains(d.Body, "arn:aws:states:::dynamodb:") {
		direct = append(direct, tableItems...)
		direct = append(direct, tableQuery...)
	}
	if strings.Contains(d.Body, "arn:aws:states:::sns:publish") {
		direct = append(direct, "sns:Publish")
	}
	if len(direct) > 0 {
		stmts, err := b.arns.statements("state machine "+d.Name, direct)
		if err != nil {
			return err
		}
		for _, s := range stmts {
			sm.AddToRolePolicy(s)
		}
		sm.AddToRolePolicy(b.keyStatement())
	}
	b.e.StateMachines[d.Name] = sm
	b.alarm(id+"Failed", "failed executions of "+name, sm.MetricFailed(&awscloudwatch.MetricOptions{
		Period: awscdk.Duration_Minutes(jsii.Number(5)),
	}))
	b.alarm(id+"TimedOut", "timed-out executions of "+name, sm.MetricTimedOut(&awscloudwatch.MetricOptions{
		Period: awscdk.Duration_Minutes(jsii.Number(5)),
	}))
	return nil
}

// api creates the HTTP API in front of functions/api, when it exists.
func (b *builder) api() {
	fn, ok := b.e.Functions["api"]
	if !ok {
		return
	}
	var auth awsapigatewayv2.IHttpRouteAuthorizer = awsapigatewayv2authorizers.NewHttpIamAuthorizer()
	if j := b.props.JWT; j != nil {
		auth = awsapigatewayv2authorizers.NewHttpJwtAuthorizer(jsii.String("Jwt"), jsii.String(j.Issuer), &awsapigatewayv2authorizers.HttpJwtAuthorizerProps{
			JwtAudience: jsii.Strings(j.Audience...),
		})
	}
	api := awsapigatewayv2.NewHttpApi(b.scope, jsii.String("HttpApi"), &awsapigatewayv2.HttpApiProps{
		Description:        jsii.String("ecsflow REST API"),
		DefaultIntegration: awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("ApiIntegration"), fn, nil),
		DefaultAuthorizer:  auth,
	})
	logs := b.logGroup("ApiAccessLogs", nil)
	stage := api.DefaultStage().Node().DefaultChild().(awsapigatewayv2.CfnStage)
	stage.SetAccessLogSettings(&awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
		DestinationArn: logs.LogGroupArn(),
		Format: jsii.String(`{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","caller":"$context.identity.caller",` +
			`"user":"$context.identity.user","requestTime":"$context.requestTime","routeKey":"$context.routeKey",` +
			`"status":"$context.status","protocol":"$context.protocol","responseLength":"$context.responseLength",` +
			`"integrationError":"$context.integrationErrorMessage"}`),
	})
	stage.SetDefaultRouteSettings(&awsapigatewayv2.CfnStage_RouteSettingsProperty{
		ThrottlingBurstLimit: jsii.Number(100),
		ThrottlingRateLimit:  jsii.Number(50),
	})
	b.e.Api = api
	awscdk.NewCfnOutput(b.scope, jsii.String("ApiUrl"), &awscdk.CfnOutputProps{
		Description: jsii.String("ecsflow REST API URL"),
		Value:       api.Url(),
	})
	b.alarm("ApiServerErrors", "5xx responses of the API", api.MetricServerError(&awscloudwatch.MetricOptions{
		Period: awscdk.Duration_Minutes(jsii.Number(5)),
	}))
}

// ecsResourcePrefixes are EventBridge prefix matchers for the services and
// tasks of the configured clusters, in this account and the target accounts.
func (b *builder) ecsResourcePrefixes() []any {
	stack := awscdk.Stack_Of(b.scope)
	accounts := append([]string{*stack.Account()}, b.props.TargetAccounts...)
	var out []any
	for _, acct := range accounts {
		for _, c := range b.props.Clusters {
			for _, kind := range []string{"service", "task"} {
				out = append(out, map[string]any{"prefix": *stack.FormatArn(&awscdk.ArnComponents{
					Service: jsii.String("ecs"), Account: jsii.String(acct), Resource: jsii.String(kind),
					ResourceName: jsii.String(c + "/"), ArnFormat: awscdk.ArnFormat_SLASH_RESOURCE_NAME,
				})})
			}
		}
	}
	return out
}

// rulePattern is one of internal/ecsevents' shared patterns, narrowed to
// ecsflow's resources: ECS events of the configured clusters, this
// account's ECR pushes (of Props.Repositories when set).
func (b *builder) rulePattern(r ecsevents.Rule) (map[string]any, error) {
	var p map[string]any
	if err := json.Unmarshal([]byte(r.Pattern), &p); err != nil {
		return nil, fmt.Errorf("ecsflow: rule %s: pattern: %w", r.Name, err)
	}
	switch fmt.Sprint(p["source"]) {
	case "[aws.ecs]":
		p["resources"] = b.ecsResourcePrefixes()
	case "[aws.ecr]":
		p["account"] = []any{*awscdk.Stack_Of(b.scope).Account()}
		if len(b.props.Repositories) > 0 {
			detail, _ := p["detail"].(map[string]any)
			if detail == nil {
				detail = map[string]any{}
				p["detail"] = detail
			}
			repos := make([]any, 0, len(b.props.Repositories))
			for _, r := range b.props.Repositories {
				repos = append(repos, r)
			}
			detail["repository-name"] = repos
		}
	}
	return p, nil
}

// rules installs internal/ecsevents' rules (the same ones the local bus
// uses) for the functions that exist, each with a retry policy and a DLQ
// per target function.
func (b *builder) rules() error {
	stack := awscdk.Stack_Of(b.scope)
	dlqs := map[string]awssqs.Queue{}
	for _, r := range ecsevents.Rules() {
		fn, ok := b.e.Functions[r.Function]
		if !ok {
			continue
		}
		pattern, err := b.rulePattern(r)
		if err != nil {
			return err
		}
		id := pascal(r.Name) + "Rule"
		rule := awsevents.NewRule(b.scope, jsii.String(id), &awsevents.RuleProps{
			RuleName:    jsii.String(b.props.NamePrefix + "-" + r.Name),
			Description: jsii.String("ecsflow: " + r.Description),
			// Replaced below by the full pattern, which the typed
			// EventPattern cannot express (prefix and nested matchers).
			EventPattern: &awsevents.EventPattern{Source: jsii.Strings("aws.ecs")},
		})
		rule.Node().DefaultChild().(awsevents.CfnRule).AddPropertyOverride(jsii.String("EventPattern"), pattern)
		dlq, ok := dlqs[r.Function]
		if !ok {
			dlq = b.queue(pascal(r.Function)+"RulesDlq", "events for "+r.Function)
			dlqs[r.Function] = dlq
		}
		rule.AddTarget(awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{
			DeadLetterQueue: dlq,
			RetryAttempts:   jsii.Number(4),
			MaxEventAge:     awscdk.Duration_Hours(jsii.Number(2)),
		}))
	}
	if fn, ok := b.e.Functions["collect-artifacts"]; ok {
		rule := awsevents.NewRule(b.scope, jsii.String("CollectArtifactsSchedule"), &awsevents.RuleProps{
			RuleName:    jsii.String(b.props.NamePrefix + "-collect-artifacts"),
			Description: jsii.String("ecsflow: poll Docker registry artifact servers for new tags"),
			Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Seconds(jsii.Number(b.props.CollectInterval.Round(time.Minute).Seconds()))),
		})
		rule.AddTarget(awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{
			DeadLetterQueue: b.queue("CollectArtifactsRulesDlq", "schedule events for collect-artifacts"),
			RetryAttempts:   jsii.Number(2),
			MaxEventAge:     awscdk.Duration_Seconds(jsii.Number(b.props.CollectInterval.Seconds())),
		}))
	}
	// Target accounts forward their ECS events here (TargetAccountRole
	// with ForwardEcsEvents); the default bus must accept them.
	if _, ok := b.e.Functions[ecsevents.FunctionECSEvents]; ok {
		for _, acct := range b.props.TargetAccounts {
			sid := "ecsflow-" + b.props.NamePrefix + "-" + acct
			awsevents.NewCfnEventBusPolicy(b.scope, jsii.String("AcceptEventsFrom"+acct), &awsevents.CfnEventBusPolicyProps{
				StatementId:  jsii.String(sid),
				EventBusName: jsii.String("default"),
				Statement: map[string]any{
					"Sid":       sid,
					"Effect":    "Allow",
					"Principal": map[string]any{"AWS": *stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("iam"), Region: jsii.String(""), Account: jsii.String(acct), Resource: jsii.String("root"), ArnFormat: awscdk.ArnFormat_NO_RESOURCE_NAME})},
					"Action":    "events:PutEvents",
					"Resource":  b.arns.format("events", "event-bus", "default", awscdk.ArnFormat_SLASH_RESOURCE_NAME),
				},
			})
		}
	}
	return nil
}

// dashboard shows the alarms and the main metrics.
func (b *builder) dashboard() {
	d := awscloudwatch.NewDashboard(b.scope, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName: jsii.String(b.props.NamePrefix),
	})
	var alarms []interfacesawscloudwatch.IAlarmRef
	for _, a := range b.alarms {
		alarms = append(alarms, a)
	}
	if len(alarms) > 0 {
		d.AddWidgets(awscloudwatch.NewAlarmStatusWidget(&awscloudwatch.AlarmStatusWidgetProps{
			Title: jsii.String("ecsflow alarms"), Alarms: &alarms, Width: jsii.Number(24),
		}))
	}
	names := make([]string, 0, len(b.e.Functions))
	for n := range b.e.Functions {
		names = append(names, n)
	}
	sort.Strings(names)
	var inv, errs, dur []awscloudwatch.IMetric
	for _, n := range names {
		fn := b.e.Functions[n]
		label := &awscloudwatch.MetricOptions{Label: jsii.String(n)}
		inv = append(inv, fn.MetricInvocations(label))
		errs = append(errs, fn.MetricErrors(label))
		dur = append(dur, fn.MetricDuration(label))
	}
	if len(names) > 0 {
		d.AddWidgets(
			awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String("Lambda invocations"), Left: &inv, Width: jsii.Number(8)}),
			awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String("Lambda errors"), Left: &errs, Width: jsii.Number(8)}),
			awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String("Lambda duration"), Left: &dur, Width: jsii.Number(8)}),
		)
	}
	var started, succeeded, failed []awscloudwatch.IMetric
	for _, d := range b.props.Definitions {
		sm := b.e.StateMachines[d.Name]
		label := &awscloudwatch.MetricOptions{Label: jsii.String(d.Name)}
		started = append(started, sm.MetricStarted(label))
		succeeded = append(succeeded, sm.MetricSucceeded(label))
		failed = append(failed, sm.MetricFailed(label))
	}
	if len(started) > 0 {
		d.AddWidgets(
			awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String("Deployments started"), Left: &started, Width: jsii.Number(8)}),
			awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String("Deployments succeeded"), Left: &succeeded, Width: jsii.Number(8)}),
			awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String("Deployments failed"), Left: &failed, Width: jsii.Number(8)}),
		)
	}
	var depth []awscloudwatch.IMetric
	qids := make([]string, 0, len(b.e.Queues))
	for id := range b.e.Queues {
		qids = append(qids, id)
	}
	sort.Strings(qids)
	for _, id := range qids {
		depth = append(depth, b.e.Queues[id].MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Label: jsii.String(id)}))
	}
	if len(depth) > 0 {
		d.AddWidgets(awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String("Dead-letter queue depth"), Left: &depth, Width: jsii.Number(12)}))
	}
	b.e.Dashboard = d
}
