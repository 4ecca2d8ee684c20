/** The operator a call runs as, as local-store authenticated it. */
export interface Operator {
  id: string;
  login: string;
  label: string;
  rights: string[];
  timezone: string;
}

export interface Session {
  operator: Operator;
  createdAt: number;
  expiresAt: number;
  rememberMe: boolean;
}

export function isAdmin(operator: Operator): boolean {
  return operator.rights.includes('admin');
}

export function hasRight(operator: Operator, right: string): boolean {
  return isAdmin(operator) || operator.rights.includes(right);
}
