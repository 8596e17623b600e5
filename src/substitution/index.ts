/** Placeholder substitution and response scrubbing: the public surface for the proxy. */
export type { CompiledSecrets, HeadRewriteInput, HeadRewriteResult, SubstitutionLocation } from './types.js';
export { compileSecrets, isPlaceholder, secretAllowed, allowedSecrets, PLACEHOLDER_LENGTH, PLACEHOLDER_PREFIX } from './compile.js';
export { rewriteRequestHead } from './head.js';
export { rewriteBasicAuthorization } from './basic.js';
export { headerValueForm, urlValueForm, percentEncode } from './encode.js';
export { rewriteRequestBody, bodyValueBytes, bodyValueFormFor, type BodyRewrite, type BodyRewriteInput, type BodyValueForm } from './body.js';
export { BodyTooLargeError, BodyDecodeError, BodySpillError } from './errors.js';
export {
  createReplaceStream,
  replaceAll,
  needleMatcher,
  placeholderMatcher,
  ReplaceStream,
  type Matcher,
  type ReplacePair,
} from './stream-replace.js';
export { buildScrubNeedles, secretScrubPairs, createScrubStream, scrubBuffer, scrubHeaders, MIN_BASE64_CORE, type ScrubNeedles } from './scrub.js';
export { planResponseScrub, type ResponseScrubInput, type ResponseScrubPlan } from './response.js';
export { parseContentEncoding, codecChain, type KnownCoding } from './codecs.js';
