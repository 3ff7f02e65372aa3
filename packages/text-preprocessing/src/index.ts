export {
  PREPROCESSING_VERSION,
  cleanText,
  expandContractions,
  pythonStrip,
  removeNumbers,
  replaceLinks,
  stripPunctuation,
} from './clean-text.js';
