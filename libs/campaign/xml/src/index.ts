export {
  DEFAULT_XML_LIMITS,
  parseXml,
  parseXmlAsync,
  XML_SLICE_LENGTH,
  XmlParseError,
  type ParseXmlAsyncOptions,
  type ParseXmlOptions,
  type XmlElement,
  type XmlLimits,
} from './xml.parser';
export { attrLocal, childrenNamed, element, firstChild } from './xml.element';
export { escapeAttr, escapeText, serializeXml } from './xml.serializer';
