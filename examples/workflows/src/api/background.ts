/** Work done after the answer is sent: @ferry/core's Background (the Lambda entry drains it before returning). */
export { Background } from "@ferry/core";
