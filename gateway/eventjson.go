package gateway

import (
	"strconv"

	"github.com/stoaproject/stoa/internal/jsonstr"
)

// The proxy events are written by hand rather than by encoding/json, which
// spends most of an event's time on reflection and on sorting map keys
// (RATIONALE.md, "Events written by hand"). The output is the JSON
// encoding/json writes for the same structs, but for the order of map
// keys; TestEventJSON and FuzzEventJSON hold the two to that.

// appendRestEvent appends ev as JSON.
func appendRestEvent(b []byte, ev *restEvent) []byte {
	b = append(b, `{"resource":`...)
	b = appendString(b, ev.Resource)
	b = append(b, `,"path":`...)
	b = appendString(b, ev.Path)
	b = append(b, `,"httpMethod":`...)
	b = appendString(b, ev.HTTPMethod)
	b = append(b, `,"headers":`...)
	b = appendStringMap(b, ev.Headers)
	b = append(b, `,"multiValueHeaders":`...)
	b = appendListMap(b, ev.MultiValueHeaders)
	b = append(b, `,"queryStringParameters":`...)
	b = appendStringMap(b, ev.QueryStringParameters)
	b = append(b, `,"multiValueQueryStringParameters":`...)
	b = appendListMap(b, ev.MultiValueQueryStringParameters)
	b = append(b, `,"pathParameters":`...)
	b = appendStringMap(b, ev.PathParameters)
	b = append(b, `,"stageVariables":`...)
	b = appendStringMap(b, ev.StageVariables)

	c := &ev.RequestContext
	b = append(b, `,"requestContext":{"accountId":`...)
	b = appendString(b, c.AccountID)
	b = append(b, `,"apiId":`...)
	b = appendString(b, c.APIID)
	b = append(b, `,"domainName":`...)
	b = appendString(b, c.DomainName)
	b = append(b, `,"domainPrefix":`...)
	b = appendString(b, c.DomainPrefix)
	b = append(b, `,"extendedRequestId":`...)
	b = appendString(b, c.ExtendedRequestID)
	b = append(b, `,"httpMethod":`...)
	b = appendString(b, c.HTTPMethod)
	id := &c.Identity
	b = append(b, `,"identity":{"accessKey":`...)
	b = appendStringPtr(b, id.AccessKey)
	b = append(b, `,"accountId":`...)
	b = appendStringPtr(b, id.AccountID)
	b = append(b, `,"apiKey":`...)
	b = appendStringPtr(b, id.APIKey)
	b = append(b, `,"apiKeyId":`...)
	b = appendStringPtr(b, id.APIKeyID)
	b = append(b, `,"caller":`...)
	b = appendStringPtr(b, id.Caller)
	b = append(b, `,"cognitoAuthenticationProvider":`...)
	b = appendStringPtr(b, id.CognitoAuthenticationProvider)
	b = append(b, `,"cognitoAuthenticationType":`...)
	b = appendStringPtr(b, id.CognitoAuthenticationType)
	b = append(b, `,"cognitoIdentityId":`...)
	b = appendStringPtr(b, id.CognitoIdentityID)
	b = append(b, `,"cognitoIdentityPoolId":`...)
	b = appendStringPtr(b, id.CognitoIdentityPoolID)
	b = append(b, `,"principalOrgId":`...)
	b = appendStringPtr(b, id.PrincipalOrgID)
	b = append(b, `,"sourceIp":`...)
	b = appendString(b, id.SourceIP)
	b = append(b, `,"user":`...)
	b = appendStringPtr(b, id.User)
	b = append(b, `,"userAgent":`...)
	b = appendStringPtr(b, id.UserAgent)
	b = append(b, `,"userArn":`...)
	b = appendStringPtr(b, id.UserArn)
	b = append(b, `},"path":`...)
	b = appendString(b, c.Path)
	b = append(b, `,"protocol":`...)
	b = appendString(b, c.Protocol)
	b = append(b, `,"requestId":`...)
	b = appendString(b, c.RequestID)
	b = append(b, `,"requestTime":`...)
	b = appendString(b, c.RequestTime)
	b = append(b, `,"requestTimeEpoch":`...)
	b = strconv.AppendInt(b, c.RequestTimeEpoch, 10)
	b = append(b, `,"resourceId":`...)
	b = appendString(b, c.ResourceID)
	b = append(b, `,"resourcePath":`...)
	b = appendString(b, c.ResourcePath)
	b = append(b, `,"stage":`...)
	b = appendString(b, c.Stage)
	b = append(b, `},"body":`...)
	b = appendStringPtr(b, ev.Body)
	b = append(b, `,"isBase64Encoded":`...)
	b = strconv.AppendBool(b, ev.IsBase64Encoded)
	return append(b, '}')
}

// appendHTTPEvent appends ev as JSON, leaving out what its struct tags
// mark omitempty when it is empty.
func appendHTTPEvent(b []byte, ev *httpEvent) []byte {
	b = append(b, `{"version":`...)
	b = appendString(b, ev.Version)
	b = append(b, `,"routeKey":`...)
	b = appendString(b, ev.RouteKey)
	b = append(b, `,"rawPath":`...)
	b = appendString(b, ev.RawPath)
	b = append(b, `,"rawQueryString":`...)
	b = appendString(b, ev.RawQueryString)
	if len(ev.Cookies) > 0 {
		b = append(b, `,"cookies":`...)
		b = appendList(b, ev.Cookies)
	}
	b = append(b, `,"headers":`...)
	b = appendStringMap(b, ev.Headers)
	if len(ev.QueryStringParameters) > 0 {
		b = append(b, `,"queryStringParameters":`...)
		b = appendStringMap(b, ev.QueryStringParameters)
	}
	if len(ev.PathParameters) > 0 {
		b = append(b, `,"pathParameters":`...)
		b = appendStringMap(b, ev.PathParameters)
	}
	if len(ev.StageVariables) > 0 {
		b = append(b, `,"stageVariables":`...)
		b = appendStringMap(b, ev.StageVariables)
	}
	c := &ev.RequestContext
	b = append(b, `,"requestContext":{"accountId":`...)
	b = appendString(b, c.AccountID)
	b = append(b, `,"apiId":`...)
	b = appendString(b, c.APIID)
	b = append(b, `,"domainName":`...)
	b = appendString(b, c.DomainName)
	b = append(b, `,"domainPrefix":`...)
	b = appendString(b, c.DomainPrefix)
	b = append(b, `,"http":{"method":`...)
	b = appendString(b, c.HTTP.Method)
	b = append(b, `,"path":`...)
	b = appendString(b, c.HTTP.Path)
	b = append(b, `,"protocol":`...)
	b = appendString(b, c.HTTP.Protocol)
	b = append(b, `,"sourceIp":`...)
	b = appendString(b, c.HTTP.SourceIP)
	b = append(b, `,"userAgent":`...)
	b = appendString(b, c.HTTP.UserAgent)
	b = append(b, `},"requestId":`...)
	b = appendString(b, c.RequestID)
	b = append(b, `,"routeKey":`...)
	b = appendString(b, c.RouteKey)
	b = append(b, `,"stage":`...)
	b = appendString(b, c.Stage)
	b = append(b, `,"time":`...)
	b = appendString(b, c.Time)
	b = append(b, `,"timeEpoch":`...)
	b = strconv.AppendInt(b, c.TimeEpoch, 10)
	b = append(b, '}')
	if ev.Body != "" {
		b = append(b, `,"body":`...)
		b = appendString(b, ev.Body)
	}
	b = append(b, `,"isBase64Encoded":`...)
	b = strconv.AppendBool(b, ev.IsBase64Encoded)
	return append(b, '}')
}

func appendStringPtr(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendString(b, *s)
}

// appendString appends s as encoding/json's Marshal writes it.
func appendString(b []byte, s string) []byte { return jsonstr.Append(b, s, true) }

// appendStringMap and appendListMap append m as an object, or null when m
// is nil, as encoding/json does (in the map's order, not sorted).
func appendStringMap(b []byte, m map[string]string) []byte {
	return appendMap(b, m, appendString)
}

func appendListMap(b []byte, m map[string][]string) []byte {
	return appendMap(b, m, appendList)
}

func appendMap[V any](b []byte, m map[string]V, appendValue func([]byte, V) []byte) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	b = append(b, '{')
	first := true
	for k, v := range m {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, k)
		b = append(b, ':')
		b = appendValue(b, v)
	}
	return append(b, '}')
}

func appendList(b []byte, vs []string) []byte {
	if vs == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, v)
	}
	return append(b, ']')
}
