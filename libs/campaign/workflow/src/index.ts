/**
 * @cap/campaign-workflow — the workflow domain without I/O: the types of states, variables, definitions and
 * runs (workflow.model.ts), the definition parser and its checks, test conditions, the step planner (what a
 * command, an activity or a signal does), `$(vars/@x)` in query conditions, and the WKF codes and command
 * faults. The engine that applies them to the database runs in cloud-executor (docs/workflows.md).
 */
export {
  systemClock,
  WORKFLOW_STATE,
  type Activity,
  type ActivityType,
  type Clock,
  type CommandName,
  type CompareOp,
  type ConditionNode,
  type DefinitionProblem,
  type DefinitionResult,
  type DeliverySettings,
  type DeliveryTargetSource,
  type LogLine,
  type QuerySettings,
  type TaskStatus,
  type Transition,
  type UpdateMode,
  type UpdateOperation,
  type UpdateSettings,
  type VarValue,
  type Vars,
  type WorkflowDefinition,
  type WorkflowInstance,
  type WorkflowSignal,
  type WorkflowState,
  type WorkflowTask,
} from './workflow.model';
export { checkWhere, DEFINITION_LIMITS, isWorkActivity, parseWorkflowDefinition, WORK_ACTIVITY_TYPES, type DefinitionOptions } from './workflow.definition';
export { CONDITION_LIMITS, ConditionSyntaxError, evaluateCondition, isTruthy, parseCondition, type ConditionScope } from './workflow-condition.parser';
export {
  decideCommand,
  describeWorkActivity,
  isJoinComplete,
  planActivity,
  planSignal,
  planWakeUp,
  planWorkDone,
  type ActivityOutcome,
  type CommandDecision,
  type Fire,
  type SignalPlan,
} from './workflow-step.planner';
export {
  bindWhereVariables,
  escapeXtkString,
  findVariableRefs,
  formatVariableRef,
  hasWhereVariables,
  substituteVariables,
  variableLookup,
  type Lookup,
  type VariableRef,
} from './workflow-query.variables';
export {
  ACTIVITY_CODES,
  ACTIVITY_ERRORS,
  DEFINITION_CODES,
  DEFINITION_ERRORS,
  isWorkflowFault,
  STATE_LABELS,
  WORKFLOW_FAULTS,
  WorkflowFault,
  type DefinitionCode,
} from './workflow.faults';
