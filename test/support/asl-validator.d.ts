// asl-validator ships no type declarations; this is the part the tests use.
declare module "asl-validator" {
  interface ValidationResult {
    isValid: boolean;
    errors: unknown[];
    errorsText: (separator?: string) => string;
  }
  const validator: (definition: unknown, options?: Record<string, unknown>) => ValidationResult;
  export default validator;
}
